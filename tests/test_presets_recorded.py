"""The presets against what each tool printed on the real PyTorch module trees (issue 21, group 4).

``data/tool_counts_recorded.csv`` was recorded by ``benchmarks/record_tool_counts.py`` in a scratch environment
with PyTorch, torchvision, timm, fvcore, thop, ptflops and torchinfo (their versions are in the file); no
framework is imported here. Every row must come out of the preset exactly: the presets are per-layer rules, so
a row that differs names a rule (or a way of writing a layer in PyTorch) the presets do not model.
"""

from __future__ import annotations

import pytest

import costmodel
from costmodel import count
from costmodel.counting.conventions import get_convention
from costmodel.counting.presets import PRESETS, tool_value
from costmodel.errors import ConventionError, DataError, SpecError
from costmodel.paper.published import read_csv
from costmodel.spec.layers import Conv2d, GlobalAvgPool
from costmodel.spec.zoo import NETWORKS

ROWS = read_csv("tool_counts_recorded.csv")
TOOLS = ("fvcore", "thop", "ptflops", "torchinfo", "torch")  # the presets whose tools count operations


def _network(row: dict[str, str]) -> costmodel.Network:
    r = int(row["resolution"])
    if row["network"] == "mobilenet_v1":
        return costmodel.mobilenet_v1(float(row["alpha"]), r, flavour=row["flavour"])
    return costmodel.network(row["network"], resolution=r)


def _id(row: dict[str, str]) -> str:
    flavour = f"-{row['flavour']}-{row['alpha']}" if row["flavour"] else ""
    return f"{row['network']}{flavour}-{row['resolution']}-{row['tool']}-{row['quantity']}"


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_preset_reproduces_the_recorded_tool_output(row):
    if row["network"] not in NETWORKS:  # recorded for networks the zoo does not have yet (ResNet, DenseNet, ...)
        pytest.skip(f"costmodel.network has no {row['network']!r}")
    cost = count(_network(row), row["tool"])
    got = cost.params if row["quantity"] == "params" else tool_value(cost.mult_adds, row["tool"])
    assert got == int(row["value"]), f"{row['module']}: {row['command']}"


def test_every_network_has_every_tool_and_quantity():
    """No half-recorded network: each (network, flavour, alpha, resolution) has both numbers of all five tools, in
    the tool's own unit (torch: FLOPs, the others Mult-Adds)."""
    seen: dict[tuple[str, ...], set[tuple[str, str]]] = {}
    for row in ROWS:
        key = (row["network"], row["flavour"], row["alpha"], row["resolution"])
        seen.setdefault(key, set()).add((row["tool"], row["quantity"]))
        assert row["unit"] == row["quantity"] == ("params" if row["quantity"] == "params" else get_convention(
            row["tool"]).unit)  # fmt: skip
    want = {(t, q) for t in TOOLS for q in ("params", get_convention(t).unit)}
    assert all(pairs == want for pairs in seen.values()), seen
    covered = {k[0] for k in seen}
    assert {"mobilenet_v1", "mobilenet_v2", "mnasnet1_0", "googlenet", "efficientnet_b0"} <= covered
    assert ("mobilenet_v1", "timm", "1.0", "224") in seen  # timm's mobilenetv1_100 with BatchNormAct2d


def test_the_issues_numbers_for_the_timm_flavour():
    """Issue 21 quotes what torchinfo and ptflops print for timm's mobilenetv1_100 at 224; so does the record."""
    printed = {r["tool"]: int(r["value"]) for r in ROWS
               if (r["network"], r["flavour"], r["resolution"], r["quantity"]) == ("mobilenet_v1", "timm", "224",
                                                                                   "mult_adds")}  # fmt: skip
    assert printed["torchinfo"] == 568_741_352 and printed["ptflops"] == 573_884_392


def test_recorded_versions_are_the_presets_tools():
    """The ptflops preset names the version it models; the recording used that version."""
    versions = {r["tool"]: r["version"] for r in ROWS}
    ptflops = next(p for p in PRESETS if p.name == "ptflops")
    assert f"ptflops {versions['ptflops']} " in ptflops.tool


# --- the rules for the ways PyTorch writes a layer ------------------------------------------------------------


def test_timm_flavour_writes_batch_norm_and_activation_as_one_module():
    timm, paper = costmodel.mobilenet_v1(flavour="timm"), costmodel.mobilenet_v1()
    assert {n.layer.pytorch for n in timm.leaves() if isinstance(n.layer, Conv2d)} == {"bn_act"}
    assert {n.layer.pytorch for n in paper.leaves() if isinstance(n.layer, Conv2d)} == {"modules"}
    # thop skips the module whole: neither its ops (4 per element) nor gamma and beta
    bn_elements = sum(n.out_ch * n.out_size**2 for n in timm.leaves() if isinstance(n.layer, Conv2d))
    bn_channels = sum(n.out_ch for n in timm.leaves() if isinstance(n.layer, Conv2d))
    assert count(timm).mult_adds == count(paper).mult_adds  # the same shapes at 224: only the forms differ
    assert count(paper, "thop").mult_adds - count(timm, "thop").mult_adds == 4 * bn_elements
    assert count(paper, "thop").params - count(timm, "thop").params == 2 * bn_channels
    assert count(paper, "torchinfo").mult_adds - count(timm, "torchinfo").mult_adds == 2 * bn_channels
    assert count(paper, "fvcore").mult_adds == count(timm, "fvcore").mult_adds  # traced aten::batch_norm


@pytest.mark.parametrize(
    "convention,network,expected_extra",
    [
        # an option counts a form the preset's tool skips: one more per pooled input element / BN element
        ("ptflops+pool-ops", "mnasnet1_0", 1 * 1280 * 7 * 7),
        ("thop+pool-ops", "mobilenet_v2", 1 * 1280 * 7 * 7),
    ],
)
def test_options_count_every_form(convention, network, expected_extra):
    """Options only add (issue 10): an option counts a layer however PyTorch writes it."""
    net = costmodel.network(network)
    base = convention.split("+")[0]
    pooled = {lc.name: lc.mult_adds for lc in count(net, convention).leaves()}["avgpool"]
    assert {lc.name: lc.mult_adds for lc in count(net, base).leaves()}["avgpool"] == 0
    assert pooled == expected_extra


def test_bn_options_count_the_fused_batch_norm():
    timm = costmodel.mobilenet_v1(flavour="timm")
    bn_channels = sum(n.out_ch for n in timm.leaves() if isinstance(n.layer, Conv2d))
    assert count(timm, "thop+bn").params - count(timm, "thop").params == 2 * bn_channels
    assert count(timm, "torchinfo+bn-ops").mult_adds > count(timm, "torchinfo").mult_adds


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: Conv2d("c", 3, 8, 3, pytorch="bn-act"), "pytorch must be one of"),
        (lambda: GlobalAvgPool("p", pytorch="avg"), "pytorch must be one of"),
    ],
)
def test_bad_pytorch_form_names_the_value(make, match):
    with pytest.raises(SpecError, match=match):
        make()


@pytest.mark.parametrize(
    "layer,value",
    [
        ({"type": "conv2d", "name": "c", "in_ch": 3, "out_ch": 8, "kernel": 3, "pytorch": "mean"}, "'mean'"),
        ({"type": "global_avg_pool", "name": "p", "pytorch": "bn_act"}, "'bn_act'"),
    ],
)
def test_bad_pytorch_form_in_a_document(layer, value):
    doc = {"input_size": 8, "layers": [{"type": "conv2d", "name": "c0", "in_ch": 3, "out_ch": 3, "kernel": 1}, layer]}
    with pytest.raises(DataError, match=f"field 'pytorch' must be one of .*got {value}"):
        costmodel.Network.from_dict(doc)


def test_pytorch_forms_survive_json():
    nets = (costmodel.network("mnasnet1_0"), costmodel.network("googlenet"), costmodel.mobilenet_v1(flavour="timm"))
    for net in nets:
        back = costmodel.Network.from_dict(net.to_dict())
        assert back == net and count(back, "ptflops").mult_adds == count(net, "ptflops").mult_adds


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"pool_ops_by_pytorch": (("module", 1),)}, "pytorch form must be one of"),
        ({"pool_ops_by_pytorch": (("mean", -1),)}, "mean"),
        ({"functional_activation_ops_by_kind": (("gelu", 1),)}, "activation must be one of"),
        ({"functional_activation_ops_by_kind": ("relu",)}, "pairs"),
        ({"bn_act_ops": 0}, "bn_act_ops must be True or False"),
        ({"bn_act_params": "no"}, "bn_act_params must be True or False"),
    ],
)
def test_bad_form_rules(kwargs, match):
    with pytest.raises(ConventionError, match=match):
        costmodel.Convention("bad", "bad", **kwargs)

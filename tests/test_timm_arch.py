"""timm architecture definitions: decoded block strings and the networks built from them.

The oracle is independent: the zoo's networks were written from torchvision's own tables (and MobileNetV1's
timm flavour from its builder), and their parameter counts are checked against torchvision's published ones in
tests/test_zoo.py. timm's ``efficientnet_b0``, ``mobilenetv2_100`` and ``mobilenetv3_large_100`` are the same
architectures as torchvision's (timm's documented parameter counts: 5.29 M, 3.50 M, 5.48 M), so every count
under every convention must agree, layer by layer.
"""

from __future__ import annotations

import pytest

import costmodel
from costmodel.counting.conventions import CONVENTIONS
from costmodel.counting.presets import tool_value
from costmodel.errors import CostModelError, SpecError
from costmodel.paper.published import read_csv
from costmodel.spec.layers import Softmax
from costmodel.spec.timm_arch import BlockArgs, decode_arch_def, decode_block, from_timm_arch, timm_network

# (timm model, the zoo's network built independently, torchvision's published parameter count or None)
PAIRS = [
    ("efficientnet_b0", lambda: costmodel.network("efficientnet_b0"), 5_288_548),
    ("mobilenetv2_100", lambda: costmodel.network("mobilenet_v2"), 3_504_872),
    ("mobilenetv3_large_100", lambda: costmodel.network("mobilenet_v3_large"), 5_483_032),
    ("mobilenetv1_100", lambda: costmodel.mobilenet_v1(flavour="timm"), None),
]


#: The hook-based tools see timm's BatchNormAct2d modules differently from torchvision's BatchNorm2d + ReLU
#: modules (tests/test_presets_recorded.py): on the same architecture their counts differ by design.
MODULE_SENSITIVE = ("thop", "ptflops", "torchinfo")


@pytest.mark.parametrize(("name", "zoo", "published"), PAIRS, ids=[p[0] for p in PAIRS])
@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_counts_equal_the_zoo(name, zoo, published, convention):
    if convention in MODULE_SENSITIVE and name != "mobilenetv1_100":  # the zoo's are torchvision's modules
        pytest.skip(f"{convention} counts timm's BatchNormAct2d modules, not torchvision's: see the recorded test")
    ours, theirs = costmodel.count(timm_network(name), convention), costmodel.count(zoo(), convention)
    assert (ours.mult_adds, ours.params) == (theirs.mult_adds, theirs.params)


RECORDED = [r for r in read_csv("tool_counts_recorded.csv") if (r["network"], r["flavour"]) == ("mobilenet_v1", "timm")]


@pytest.mark.parametrize("row", RECORDED, ids=lambda r: f"{r['tool']}-{r['resolution']}-{r['quantity']}")
def test_counts_equal_what_the_tools_print_on_timms_own_model(row):
    """timm.create_model('mobilenetv1_100') counted by each tool (data/tool_counts_recorded.csv, recorded with the
    real tools): the network built from its block strings gives the same numbers under each preset."""
    cost = costmodel.count(timm_network("mobilenetv1_100", resolution=int(row["resolution"])), row["tool"])
    got = cost.params if row["quantity"] == "params" else tool_value(cost.mult_adds, row["tool"])
    assert got == int(row["value"])


@pytest.mark.parametrize(("name", "zoo", "published"), PAIRS, ids=[p[0] for p in PAIRS])
def test_shapes_equal_the_zoo_layer_by_layer(name, zoo, published):
    ours = [(n.in_ch, n.in_size, n.out_ch, n.out_size) for n in timm_network(name).leaves()]
    # MobileNetV1's builder ends with Table 1's softmax, which timm's model leaves to the loss (no cost).
    theirs = [(n.in_ch, n.in_size, n.out_ch, n.out_size) for n in zoo().leaves() if not isinstance(n.layer, Softmax)]
    assert ours == theirs


@pytest.mark.parametrize(("name", "zoo", "published"), [p for p in PAIRS if p[2]], ids=[p[0] for p in PAIRS if p[2]])
def test_parameters_equal_torchvision(name, zoo, published):
    assert costmodel.count(timm_network(name), "torch").params == published


@pytest.mark.parametrize("resolution", [96, 161, 224, 255])
def test_other_resolutions_follow_the_zoo(resolution):
    ours = costmodel.count(timm_network("efficientnet_b0", resolution=resolution, num_classes=10))
    theirs = costmodel.count(costmodel.network("efficientnet_b0", resolution=resolution, num_classes=10))
    assert (ours.mult_adds, ours.params) == (theirs.mult_adds, theirs.params)


# Block strings and what timm's _decode_block_str makes of them (read from timm/models/_efficientnet_builder.py).
DECODED = [
    ("ir_r2_k5_s2_e6_c40_se0.25", BlockArgs("ir", 40, 2, 5, 6.0, 0.25), 2),
    ("ds_r1_k3_s1_e1_c16_nre", BlockArgs("ds", 16, 1, 3, 1.0, 0.0, "relu"), 1),
    ("dsa_r6_k3_s2_c512", BlockArgs("dsa", 512, 2, 3), 6),
    ("ir_r1_k3_s1_e2.3_c80_nhs", BlockArgs("ir", 80, 1, 3, 2.3, 0.0, "hardswish"), 1),
    ("er_r1_k3_s2_e4_c32_noskip", BlockArgs("er", 32, 2, 3, 4.0, 0.0, None, False), 1),
    ("cn_r1_k1_s1_c960_skip", BlockArgs("cn", 960, 1, 1, skip=True), 1),
    ("c24_k3_ir_r1_s2_e6", None, None),  # the block type must come first
]


@pytest.mark.parametrize(("text", "args", "repeats"), DECODED, ids=[d[0] for d in DECODED])
def test_decode_block(text, args, repeats):
    if args is None:
        with pytest.raises(SpecError, match="block type"):
            decode_block(text)
    else:
        assert decode_block(text) == (args, repeats)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ir_r1_k3_s1_e6_c40_cc4", "CondConv"),
        ("ir_r1_k3_s1_e6_c40_gs8", "group size"),
        ("uir_r1_a3_k5_s1_e4_c48", "block type"),
        ("ir_r1_k3_s1_e6_c40_nmi", "activation 'mi'"),
        ("ir_r1_k3_s3_e6_c40", "s in"),
        ("ir_r1_k3_s1_c40", "'e' is missing"),
        ("ds_r1_s1_c40", "'k' is missing"),
        ("ir_r1_k3_s1_e6_c40_zz3", "unknown option"),
        ("ir_r1_k3_s1_e6_c40_zz", "no value"),
        ("ir_r1_k3_s1_e1e999_c40", "finite"),
        ("", "non-empty"),
    ],
)
def test_unsupported_or_malformed_strings_name_themselves(text, message):
    with pytest.raises(SpecError, match=message):
        decode_block(text)


def test_depth_multiplier_follows_timm():
    # _scale_stage_depth, 'ceil': 3 blocks x 1.2 -> ceil(3.6) = 4, shared from the last string backwards:
    # the last (r2) gets round(2/3 * 4) = 3, the first the rest, 1.
    (stage,) = decode_arch_def([["ir_r1_k3_s2_e6_c80", "ir_r2_k3_s1_e2.5_c80"]], depth_multiplier=1.2)
    assert [a.expand for a in stage] == [6.0, 2.5, 2.5, 2.5]
    # EfficientNet-B1 is B0 with depth 1.1: timm documents 7.79 M parameters (7,794,184).
    b1 = from_timm_arch(**{**_b0_kwargs(), "depth_multiplier": 1.1}, resolution=240)
    assert costmodel.count(b1, "torch").params == 7_794_184


def _b0_kwargs():
    from costmodel.spec.timm_arch import TIMM_MODELS

    return dict(TIMM_MODELS["efficientnet_b0"])


def test_names_are_timm_module_names():
    net = timm_network("efficientnet_b0")
    names = {node.name for node in net.walk()} if hasattr(net, "walk") else {n.name for n in net.leaves()}
    for expected in ("conv_stem", "blocks.0.0.conv_dw", "blocks.0.0.se.reduce", "blocks.6.0.conv_pwl",
                     "conv_head", "classifier"):  # fmt: skip
        assert expected in names


@pytest.mark.parametrize(
    "kwargs",
    [
        {"family": "resnet"},
        {"activation": "gelu"},
        {"channel_multiplier": 0},
        {"channel_multiplier": float("nan")},
        {"depth_multiplier": -1},
        {"num_features": -1},
        {"stem_size": 0},
        {"arch_def": "ir_r1_k3_s1_e6_c40"},
        {"arch_def": [[]]},
    ],
)
def test_bad_arguments_are_project_errors(kwargs):
    with pytest.raises(CostModelError):
        from_timm_arch(**{**_b0_kwargs(), **kwargs})


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(SpecError, match="efficientnet_b0"):
        timm_network("resnet50")

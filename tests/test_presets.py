"""Tool presets: the published outputs at 1.0-224, and per-layer rules that hold at any α, size, network.

The oracles below re-implement each tool's module hooks the way the tool's own source does (read from
fvcore/nn/jit_handles.py, thop/vision/basic_hooks.py + calc_func.py, ptflops/pytorch_ops.py +
pytorch_engine.py, torchinfo/layer_info.py, torch/utils/flop_counter.py), walking the placed layers with
plain loops; they share nothing with costmodel.counting.engine but the spec's shapes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel
from costmodel import count, mobilenet_v1
from costmodel.counting.conventions import CONVENTIONS, get_convention
from costmodel.counting.presets import PRESETS, preset_names, tool_value, trainable_params
from costmodel.errors import ConventionError
from costmodel.paper.published import read_csv
from costmodel.spec.layers import AdaptiveAvgPool, Conv2d, GlobalAvgPool, Linear, Pool2d


def _published() -> list[dict[str, str]]:
    return read_csv("tool_counts.csv")


def _elems(ch: int, size: int) -> int:
    return ch * size * size


# --- oracles: what each tool adds to the paper's Mult-Adds, hook by hook ----------------------------------


def _leaves(net):
    return net.leaves()


def fvcore_extra(net) -> int:
    total = 0
    for n in _leaves(net):
        layer = n.layer
        if getattr(layer, "batch_norm", False):
            total += 2 * _elems(n.out_ch, n.out_size)  # batchnorm_flop_jit, eval, affine
        if isinstance(layer, (GlobalAvgPool, AdaptiveAvgPool)):
            total += _elems(n.in_ch, n.in_size)  # elementwise_flop_counter(1, 0)
    return total


def thop_extra(net) -> int:
    total = 0
    for n in _leaves(net):
        layer, out = n.layer, _elems(n.out_ch, n.out_size)
        if getattr(layer, "batch_norm", False):
            total += 2 * out * 2  # calculate_norm(numel) = 2 * numel, doubled when affine
        if isinstance(layer, Pool2d) and layer.mode == "avg":
            total += out  # count_avgpool: y.numel()
        if isinstance(layer, (GlobalAvgPool, AdaptiveAvgPool)):
            kernel = (n.in_size / n.out_size) * (n.in_size / n.out_size)  # float, as thop
            total += int((kernel + 1) * out)  # calculate_adaptive_avg
    return total


def ptflops_extra(net) -> int:
    total = 0
    for n in _leaves(net):
        layer, inp, out = n.layer, _elems(n.in_ch, n.in_size), _elems(n.out_ch, n.out_size)
        if getattr(layer, "bias", False):
            total += out  # conv: out_channels * positions; linear: out_features
        if getattr(layer, "batch_norm", False):
            total += 2 * out  # bn hook, affine (BN input numel == conv output numel)
        if getattr(layer, "activation", None):
            total += out + out  # relu module hook + patched F.relu called by nn.ReLU.forward
        if isinstance(layer, (Pool2d, GlobalAvgPool, AdaptiveAvgPool)):
            total += inp + inp  # pool module hook + patched F.*pool* called by the module
    return total


def torchinfo_extra(net) -> int:
    total = 0
    for n in _leaves(net):
        layer = n.layer
        if isinstance(layer, Conv2d):
            if layer.bias:
                total += layer.out_ch * n.out_size * n.out_size  # bias params x output positions
            if layer.batch_norm:
                total += 2 * layer.out_ch  # BatchNorm2d: batch (1) x its parameters
        if isinstance(layer, Linear) and layer.bias:
            total += layer.out_features  # batch (1) x bias params
    return total


def torch_params(net, extras: bool = True) -> int:
    """sum(p.numel() for p in model.parameters()): weights, biases, BN gamma, beta (extras=False: weights)."""
    total = 0
    for n in _leaves(net):
        layer = n.layer
        if isinstance(layer, Conv2d):
            total += layer.kernel**2 * layer.in_ch // layer.groups * layer.out_ch
            total += extras * layer.out_ch * (int(layer.bias) + 2 * int(layer.batch_norm))
        elif isinstance(layer, Linear):
            total += layer.in_features * layer.out_features + extras * layer.out_features * int(layer.bias)
    return total


def bn_channels(net) -> int:
    return sum(n.out_ch for n in _leaves(net) if getattr(n.layer, "batch_norm", False))


EXTRA = {
    "paper": lambda net: 0,
    "fvcore": fvcore_extra,
    "thop": thop_extra,
    "ptflops": ptflops_extra,
    "torchinfo": torchinfo_extra,
    "torch": lambda net: 0,
    "keras": lambda net: 0,
    "tfslim": lambda net: 0,
}
PARAMS = {
    "paper": lambda net: torch_params(net, extras=False),
    "fvcore": torch_params,
    "thop": torch_params,
    "ptflops": torch_params,
    "torchinfo": torch_params,
    "torch": torch_params,
    "keras": lambda net: torch_params(net) + 2 * bn_channels(net),  # + moving mean and variance
    "tfslim": lambda net: torch_params(net) + 2 * bn_channels(net),  # every variable, as Keras (gamma here)
}


# --- tests ----------------------------------------------------------------------------------------------


def test_presets_are_registered_with_the_names_of_the_issue():
    assert preset_names() == ("paper", "fvcore", "thop", "ptflops", "torchinfo", "torch", "keras", "tfslim")
    assert all(name in CONVENTIONS for name in preset_names())
    assert get_convention("paper") == costmodel.counting.conventions.PAPER  # the paper's convention is untouched


@pytest.mark.parametrize("row", _published(), ids=lambda r: f"{r['tool']}-{r['quantity']}")
def test_published_tool_output_at_1_0_224(row):
    """Every number in data/tool_counts.csv, exactly (they are integers the tools print)."""
    cost = count(mobilenet_v1(), row["tool"])
    got = {
        "mult_adds": cost.mult_adds,
        "flops": tool_value(cost.mult_adds, row["tool"]),
        "params": cost.params,
        "trainable_params": trainable_params(cost),
    }[row["quantity"]]
    assert got == int(row["value"])


def test_torch_reports_flops_others_mult_adds():
    assert get_convention("torch").unit == "flops"
    assert {p.unit for p in PRESETS if p.name != "torch"} == {"mult_adds"}
    assert count(mobilenet_v1(), "torch").flops == 2 * count(mobilenet_v1()).mult_adds


CONFIGS = [(1.0, 224), (0.75, 224), (0.5, 160), (0.25, 128), (1.0, 193), (0.6, 97), (1.3, 33)]


@pytest.mark.parametrize("name", preset_names())
@pytest.mark.parametrize("alpha,resolution", CONFIGS)
def test_preset_minus_paper_is_the_per_layer_rule(name, alpha, resolution):
    net = mobilenet_v1(alpha, resolution)
    paper, preset = count(net), count(net, name)
    assert preset.mult_adds - paper.mult_adds == EXTRA[name](net)
    assert preset.params == PARAMS[name](net)


NETWORKS = [
    (n, r)
    for n in ("vgg16", "googlenet", "alexnet", "squeezenet1_0", "squeezenet1_1", "mobilenet_v2")
    for r in (224, 163)
]


@pytest.mark.parametrize("name", preset_names())
@pytest.mark.parametrize("network,resolution", NETWORKS)
def test_presets_on_comparison_networks(name, network, resolution):
    """Max pools, fixed and adaptive average pools, conv biases, multi-branch blocks: the same rules hold."""
    net = costmodel.network(network, resolution=resolution)
    paper, preset = count(net), count(net, name)
    assert preset.mult_adds - paper.mult_adds == EXTRA[name](net)
    assert preset.params == PARAMS[name](net)


@settings(max_examples=40, deadline=None)
@given(
    alpha=st.floats(0.05, 2.0, allow_nan=False),
    resolution=st.integers(32, 300),
    shallow=st.booleans(),
    name=st.sampled_from(preset_names()),
)
def test_presets_hold_for_random_configurations(alpha, resolution, shallow, name):
    net = mobilenet_v1(alpha, resolution, shallow=shallow)
    assert count(net, name).mult_adds - count(net).mult_adds == EXTRA[name](net)


def test_options_still_add_to_presets():
    assert count(mobilenet_v1(), "fvcore+activation-ops").mult_adds == count(mobilenet_v1(), "fvcore").mult_adds + sum(
        _elems(n.out_ch, n.out_size) for n in mobilenet_v1().leaves() if n.layer.__class__ is Conv2d
    )


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"unit": "macs"}, "unit must be"),
        ({"reports": ("flops",)}, "reports must name"),
        ({"bn_params": 2, "non_trainable_bn_params": 4}, "non_trainable_bn_params"),
        ({"adaptive_pool_ops": -1}, "adaptive_pool_ops"),
        ({"bn_channel_ops": True}, "bn_channel_ops"),
    ],
)
def test_bad_convention_fields(kwargs, match):
    with pytest.raises(ConventionError, match=match):
        costmodel.Convention("bad", "bad", **kwargs)


@pytest.mark.parametrize("field", ["adaptive_pool_ops", "avg_pool_out_ops", "bn_channel_ops"])
def test_new_rules_are_not_weights_only(field):
    assert not costmodel.Convention("x", "x", **{field: 1}).weights_only
    net = costmodel.network("googlenet")
    assert count(net, costmodel.Convention("x", "x", **{field: 1})).mult_adds > count(net).mult_adds


@pytest.mark.parametrize("name", ["paper", "thop"])
@pytest.mark.parametrize("network", ["googlenet", "squeezenet1_0", "mobilenet_v2"])
def test_blocks_are_expanded_under_every_convention(name, network):
    cost = count(costmodel.network(network), name)
    blocks = [lc for lc in cost.layers if lc.node.branches]
    assert blocks and all(lc.parts for lc in blocks)
    assert sum(lc.mult_adds for lc in cost.leaves()) == cost.mult_adds
    assert sum(lc.params for lc in cost.leaves()) == cost.params

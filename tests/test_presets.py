"""Tool presets: the published outputs at 1.0-224, and per-layer rules that hold at any α, size, network.

The oracles below re-implement each tool's module hooks the way the tool's own source does (read from
fvcore/nn/jit_handles.py, thop/vision/basic_hooks.py + calc_func.py, ptflops/pytorch_ops.py +
pytorch_engine.py, torchinfo/layer_info.py, torch/utils/flop_counter.py), walking the placed layers with
plain loops; they share nothing with costmodel.counting.engine but the spec's shapes.
"""

from __future__ import annotations

import pytest
from _networks import tiny
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel
from costmodel import count, mobilenet_v1
from costmodel.counting.conventions import CONVENTIONS, get_convention
from costmodel.counting.presets import PRESETS, preset_names, tool_value, trainable_params
from costmodel.errors import ConventionError
from costmodel.paper.published import read_csv
from costmodel.spec.layers import AdaptiveAvgPool, BatchNormAct, Conv2d, GlobalAvgPool, Linear, Pool2d
from costmodel.spec.zoo_graph import GRAPH_NETWORKS


def _published() -> list[dict[str, str]]:
    return read_csv("tool_counts.csv")


def _elems(ch: int, size: int) -> int:
    return ch * size * size


# --- oracles: what each tool adds to the paper's Mult-Adds, hook by hook ----------------------------------


def _leaves(net):
    return net.leaves()


def _pytorch(layer) -> str | None:
    """How PyTorch writes the layer (Conv2d: "modules", "functional_act", "bn_act"; GlobalAvgPool: "module",
    "function", "mean")."""
    return getattr(layer, "pytorch", None)


def fvcore_extra(net) -> int:
    total = 0
    for n in _leaves(net):
        layer = n.layer
        if getattr(layer, "batch_norm", False):
            total += 2 * _elems(n.out_ch, n.out_size)  # batchnorm_flop_jit, eval, affine (any module calling it)
        if isinstance(layer, (GlobalAvgPool, AdaptiveAvgPool)) and _pytorch(layer) != "mean":
            total += _elems(n.in_ch, n.in_size)  # aten::adaptive_avg_pool2d: elementwise_flop_counter(1, 0)
    return total  # aten::mean is not among fvcore's handles: x.mean([2, 3]) counts 0


def thop_extra(net) -> int:
    total = 0
    for n in _leaves(net):
        layer, out = n.layer, _elems(n.out_ch, n.out_size)
        if getattr(layer, "batch_norm", False) and _pytorch(layer) != "bn_act":  # BatchNormAct2d: not a leaf
            total += 2 * out * 2  # calculate_norm(numel) = 2 * numel, doubled when affine
        if isinstance(layer, Pool2d) and layer.mode == "avg":
            total += out  # count_avgpool: y.numel()
        if isinstance(layer, (GlobalAvgPool, AdaptiveAvgPool)) and _pytorch(layer) in (None, "module"):
            kernel = (n.in_size / n.out_size) * (n.in_size / n.out_size)  # float, as thop
            total += int((kernel + 1) * out)  # calculate_adaptive_avg
    return total


# ptflops per activation: nn.ReLU's module hook + the patched F.relu it calls (2); nn.ReLU6 is an nn.Hardtanh
# calling F.hardtanh, which is not patched (1); nn.SiLU has no module hook but calls the patched F.silu (1);
# nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid: no hook, and F.hardswish, F.hardsigmoid, torch.sigmoid unpatched (0).
PTFLOPS_ACTIVATION = {"relu": 2, "relu6": 1, "silu": 1, "hardswish": 0, "hardsigmoid": 0, "sigmoid": 0}
# ... and called as a function in forward: the patched F.relu, F.relu6, F.silu alone (1); the others 0
PTFLOPS_FUNCTIONAL = {"relu": 1, "relu6": 1, "silu": 1, "hardswish": 0, "hardsigmoid": 0, "sigmoid": 0}


def ptflops_extra(net) -> int:
    total = 0
    for n in _leaves(net):
        layer, inp, out = n.layer, _elems(n.in_ch, n.in_size), _elems(n.out_ch, n.out_size)
        if getattr(layer, "bias", False):
            total += out  # conv: out_channels * positions; linear: out_features
        if getattr(layer, "batch_norm", False) and _pytorch(layer) != "bn_act":  # BatchNormAct2d: no hook
            total += 2 * out  # bn hook, affine (BN input numel == conv output numel)
        if getattr(layer, "activation", None):
            table = PTFLOPS_FUNCTIONAL if _pytorch(layer) == "functional_act" else PTFLOPS_ACTIVATION
            total += table[layer.activation] * out
        if isinstance(layer, GlobalAvgPool) and _pytorch(layer) == "function":
            total += inp  # the patched F.adaptive_avg_pool2d alone
        elif isinstance(layer, (Pool2d, GlobalAvgPool, AdaptiveAvgPool)) and _pytorch(layer) != "mean":
            total += inp + inp  # pool module hook + patched F.*pool* called by the module
    return total


def torchinfo_extra(net) -> int:
    total = 0
    for n in _leaves(net):
        layer = n.layer
        if isinstance(layer, Conv2d):
            if layer.bias:
                total += layer.out_ch * n.out_size * n.out_size  # bias params x output positions
            if layer.batch_norm and _pytorch(layer) != "bn_act":  # only leaf modules' Mult-Adds are summed
                total += 2 * layer.out_ch  # BatchNorm2d: batch (1) x its parameters
        if isinstance(layer, Linear) and layer.bias:
            total += layer.out_features  # batch (1) x bias params
        if isinstance(layer, BatchNormAct) and layer.batch_norm:
            total += 2 * layer.channels  # a standalone BatchNorm2d: batch (1) x its parameters
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
        elif isinstance(layer, BatchNormAct):
            total += extras * 2 * layer.channels * int(layer.batch_norm)  # a standalone BatchNorm2d's gamma, beta
    return total


def bn_channels(net) -> int:
    return sum(n.out_ch for n in _leaves(net) if getattr(n.layer, "batch_norm", False))


def thop_params(net) -> int:
    """thop counts the parameters of the leaf modules it profiles: not those of timm's BatchNormAct2d."""
    fused = sum(
        n.out_ch for n in _leaves(net) if getattr(n.layer, "batch_norm", False) and _pytorch(n.layer) == "bn_act"
    )
    return torch_params(net) - 2 * fused


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
    "thop": thop_params,
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
] + [(n, r) for n in ("mobilenet_v3_large", "mobilenet_v3_small", "mnasnet1_0", "efficientnet_b0") for r in (224, 97)]
NETWORKS += [(n, r) for n in GRAPH_NETWORKS for r in (224, 97)]  # standalone BN-ReLU, sums, splits, shuffles


@pytest.mark.parametrize("name", preset_names())
@pytest.mark.parametrize("resolution", [33, 64])
def test_presets_on_new_layer_types(name, resolution):
    """Squeeze-and-excite (its pooling and biased convs), residual adds, every activation, kxk depthwise."""
    net = tiny(resolution)
    paper, preset = count(net), count(net, name)
    assert preset.mult_adds - paper.mult_adds == EXTRA[name](net)
    assert preset.params == PARAMS[name](net)


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
@pytest.mark.parametrize("network", ["googlenet", "squeezenet1_0", "mobilenet_v2", "tiny", "efficientnet_b0"])
def test_blocks_are_expanded_under_every_convention(name, network):
    cost = count(tiny() if network == "tiny" else costmodel.network(network), name)
    blocks = [lc for lc in cost.layers if lc.node.branches]
    assert blocks and all(lc.parts for lc in blocks)
    assert sum(lc.mult_adds for lc in cost.leaves()) == cost.mult_adds
    assert sum(lc.params for lc in cost.leaves()) == cost.params


def test_ptflops_counts_activations_by_kind():
    """ReLU twice, ReLU6 and SiLU once, the hard and sigmoid gates not at all (see PTFLOPS_ACTIVATION)."""
    conv = get_convention("ptflops")
    assert {a: conv.ops_per_activation(a) for a in PTFLOPS_ACTIVATION} == PTFLOPS_ACTIVATION
    for name in ("fvcore", "thop", "torchinfo", "torch"):
        assert all(get_convention(name).ops_per_activation(a) == 0 for a in PTFLOPS_ACTIVATION), name


@pytest.mark.parametrize("name", preset_names())
def test_no_tool_counts_the_residual_add_or_the_se_multiply(name):
    assert get_convention(name).elementwise_ops == 0


@pytest.mark.parametrize(
    "network,pytorch,expected",
    [
        # (fvcore, thop, ptflops) on a 7x7x1280 map (62,720 input elements, 1,280 output elements)
        ("efficientnet_b0", "module", (62_720, 62_720 + 1_280, 2 * 62_720)),  # nn.AdaptiveAvgPool2d(1)
        ("mobilenet_v2", "function", (62_720, 0, 62_720)),  # F.adaptive_avg_pool2d: no module to hook
        ("mnasnet1_0", "mean", (0, 0, 0)),  # x.mean([2, 3]): no tool counts a tensor mean
    ],
)
def test_global_pooling_as_pytorch_writes_it(network, pytorch, expected):
    """torchvision pools EfficientNet with a module, MobileNetV2 with a function and MNASNet with a tensor mean;
    hook-based tools see only the module (ptflops also its patched function), fvcore only the aten op it knows."""
    pool = costmodel.network(network)["avgpool"]
    assert pool.layer.pytorch == pytorch and pool.in_ch * pool.in_size**2 == 62_720
    cost = {name: {lc.name: lc.mult_adds for lc in count(costmodel.network(network), name).leaves()}
            for name in ("fvcore", "thop", "ptflops")}  # fmt: skip
    assert (cost["fvcore"]["avgpool"], cost["thop"]["avgpool"], cost["ptflops"]["avgpool"]) == expected
    assert pytorch == "module" or f'``"{pytorch}"``' in presets_doc()  # each other form has its row


def presets_doc() -> str:
    return costmodel.counting.presets.__doc__ or ""


@pytest.mark.parametrize(
    "rules,match",
    [
        ((("gelu", 1),), "activation must be one of"),
        ((("relu", -1),), "relu"),
        (("relu",), "pairs"),
    ],
)
def test_bad_activation_rules(rules, match):
    with pytest.raises(ConventionError, match=match):
        costmodel.Convention("bad", "bad", activation_ops_by_kind=rules)


def test_activation_ops_option_counts_every_activation_at_least_once():
    net = tiny()
    leaves = [n for n in net.leaves() if getattr(n.layer, "activation", None)]
    extra = count(net, "ptflops+activation-ops").mult_adds - count(net, "ptflops").mult_adds
    ptflops = sum(PTFLOPS_ACTIVATION[n.layer.activation] * _elems(n.out_ch, n.out_size) for n in leaves)
    at_least_one = sum(max(PTFLOPS_ACTIVATION[n.layer.activation], 1) * _elems(n.out_ch, n.out_size) for n in leaves)
    # options only add (issue 10): an activation ptflops counts twice stays at 2, one it skips counts once
    assert extra == at_least_one - ptflops > 0


@settings(max_examples=60, deadline=None)
@given(
    kernel=st.sampled_from([3, 5, 7]),
    stride=st.sampled_from([1, 2]),
    in_ch=st.integers(1, 24),
    out_ch=st.integers(1, 24),
    expand=st.integers(1, 64),
    se=st.one_of(st.none(), st.integers(1, 16)),
    activation=st.sampled_from(["relu", "relu6", "hardswish", "silu"]),
    gate=st.sampled_from(["hardsigmoid", "sigmoid"]),
    size=st.integers(1, 40),
    name=st.sampled_from(preset_names()),
)
def test_presets_hold_for_random_inverted_residuals(
    kernel, stride, in_ch, out_ch, expand, se, activation, gate, size, name
):
    """Any MBConv block (residual or not, with or without squeeze-and-excite, any activation, gate and kernel)
    on any map: each preset's difference from the paper is the tool oracle's per-layer sum."""
    from costmodel.spec.blocks import inverted_residual
    from costmodel.spec.network import Network

    layers = inverted_residual("b", in_ch, out_ch, expand_ch=expand, kernel=kernel, stride=stride,
                               activation=activation, se_ch=se, se_gate=gate)  # fmt: skip
    net = Network(layers, size, in_ch=in_ch)
    assert count(net, name).mult_adds - count(net).mult_adds == EXTRA[name](net)
    assert count(net, name).params == PARAMS[name](net)

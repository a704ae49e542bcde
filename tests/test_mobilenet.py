"""The MobileNetV1 spec: Table 1's structure, variants, channel rounding, sizes and bad input."""

import math

import pytest

from costmodel import SpecError, count, mobilenet_v1
from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear, Softmax
from costmodel.spec.mobilenet import scale_channels

# Independent golden numbers: TF-slim's per-layer table of mobilenet_v1 (body without the FC layer), and the
# paper's convention with the 1024x1000 FC layer added (issue #2).
GOLDEN = [
    # alpha, resolution, body params, body Mult-Adds
    (1.0, 224, 3_185_088, 567_716_352),
    (0.75, 128, 1_800_144, 106_002_432),
]


@pytest.mark.parametrize("alpha, resolution, params, mult_adds", GOLDEN)
def test_tfslim_body_totals(alpha, resolution, params, mult_adds):
    c = count(mobilenet_v1(alpha, resolution))
    body = [lc for lc in c.layers if lc.name != "fc"]
    assert sum(lc.params for lc in body) == params
    assert sum(lc.mult_adds for lc in body) == mult_adds


def test_full_network_totals_exact():
    c = count(mobilenet_v1())
    assert (c.mult_adds, c.params, c.flops) == (568_740_352, 4_209_088, 2 * 568_740_352)


def test_layer_names_and_28_layers():
    net = mobilenet_v1()
    names = [n.name for n in net]
    expected = ["conv1"] + [f"conv_{k}_{i}" for i in range(1, 14) for k in ("dw", "pw")] + ["pool", "fc", "softmax"]
    assert names == expected
    weighted = [n for n in net if isinstance(n.layer, (Conv2d, Linear))]
    assert len(weighted) == 28  # the paper's count: depthwise and pointwise separately, plus conv1 and FC
    assert isinstance(net["pool"].layer, GlobalAvgPool) and isinstance(net["softmax"].layer, Softmax)


def test_depthwise_is_groups_equal_channels():
    net = mobilenet_v1(0.5)
    for i in range(1, 14):
        layer = net[f"conv_dw_{i}"].layer
        assert layer.groups == layer.in_ch == layer.out_ch and layer.depthwise
        assert not net[f"conv_pw_{i}"].layer.depthwise


def test_last_depthwise_stride_is_one_and_map_stays_7x7():
    net = mobilenet_v1()
    assert net["conv_dw_13"].layer.stride == 1
    assert net["conv_dw_13"].in_size == net["conv_dw_13"].out_size == 7


@pytest.mark.parametrize("resolution", [32, 33, 97, 128, 160, 192, 224, 225, 299, 511])
def test_sizes_follow_ceil_rule(resolution):
    """An independent derivation: five stride-2 layers, each ceil(n / 2)."""
    net = mobilenet_v1(1.0, resolution)
    size = resolution
    strided = {"conv1", "conv_dw_2", "conv_dw_4", "conv_dw_6", "conv_dw_12"}
    for node in net:
        assert node.in_size == size, node.name
        if node.name in strided:
            size = math.ceil(size / 2)
        if node.name == "pool":
            size = 1
        assert node.out_size == size, node.name


@pytest.mark.parametrize("alpha", [0.25, 0.3, 0.35, 0.5, 0.6, 0.75, 0.9, 1.0, 1.3, 2.0])
def test_channels_are_int_of_c_alpha(alpha):
    net = mobilenet_v1(alpha)
    base = mobilenet_v1(1.0)
    for node, ref in zip(net, base, strict=True):
        if isinstance(node.layer, Conv2d):
            assert node.layer.out_ch == int(ref.layer.out_ch * alpha)
    assert net["fc"].layer.in_features == int(1024 * alpha)


def test_scale_channels_rejects_zero_channels():
    with pytest.raises(SpecError, match="alpha=0.01 is too small"):
        mobilenet_v1(0.01)
    assert scale_channels(32, 0.25) == 8


def test_rho_multiplies_resolution():
    assert mobilenet_v1(rho=0.714).input_size == 160
    assert mobilenet_v1(resolution=192, rho=0.5).input_size == 96
    assert mobilenet_v1(rho=1.0).input_size == 224


def test_shallow_removes_the_five_14x14_blocks():
    shallow, full = mobilenet_v1(shallow=True), mobilenet_v1()
    removed = {n.name for n in full} - {n.name for n in shallow}
    assert removed == {f"conv_{k}_{i}" for i in range(7, 12) for k in ("dw", "pw")}
    assert all(full[name].in_size == 14 and full[name].in_ch == 512 for name in removed)


def test_full_conv_replaces_each_pair_with_one_3x3():
    net = mobilenet_v1(separable=False)
    fulls = [n for n in net if n.name.startswith("conv_full_")]
    assert len(fulls) == 13
    sep = mobilenet_v1()
    for node in fulls:
        i = node.name.rsplit("_", 1)[1]
        dw, pw = sep[f"conv_dw_{i}"], sep[f"conv_pw_{i}"]
        assert (node.layer.kernel, node.layer.groups) == (3, 1)
        assert (node.in_ch, node.out_ch, node.layer.stride) == (dw.in_ch, pw.out_ch, dw.layer.stride)
        assert node.out_size == pw.out_size


BAD = [
    # kwargs, message fragment (the bad value must be named)
    ({"alpha": -0.5}, "alpha must be a finite number > 0, got -0.5"),
    ({"alpha": 0}, "got 0"),
    ({"alpha": float("nan")}, "got nan"),
    ({"alpha": float("inf")}, "got inf"),
    ({"alpha": "1.0"}, "alpha must be a number, got '1.0'"),
    ({"alpha": True}, "alpha must be a number, got True"),
    ({"alpha": None}, "alpha must be a number, got None"),
    ({"resolution": 31}, "resolution must be >= 32, got 31"),
    ({"resolution": -224}, "got -224"),
    ({"resolution": 224.0}, "resolution must be an integer, got 224.0"),
    ({"resolution": 224.5}, "resolution must be an integer, got 224.5"),
    ({"resolution": "224"}, "resolution must be an integer, got '224'"),
    ({"rho": 0}, "rho must be in (0, 1], got 0"),
    ({"rho": 1.5}, "rho must be in (0, 1], got 1.5"),
    ({"rho": -0.1}, "got -0.1"),
    ({"rho": float("nan")}, "got nan"),
    ({"rho": 0.1}, "rho=0.1 is too small: resolution round(0.1 * 224) = 22 is below 32"),
    ({"alpha": 1e300}, "alpha=1e+300 is too large: 32 channels would become 3.2e+301"),
    ({"resolution": 10**11}, "resolution must be at most 2,147,483,647, got 100000000000"),
    ({"num_classes": 10**40}, "num_classes must be at most 2,147,483,647"),
    ({"num_classes": 0}, "num_classes must be a positive integer, got 0"),
    ({"activation": "gelu"}, "one of relu, relu6, hardswish, hardsigmoid, silu, sigmoid, got 'gelu'"),
]


@pytest.mark.parametrize("kwargs, message", BAD)
def test_bad_input_raises_spec_error_naming_the_value(kwargs, message):
    with pytest.raises(SpecError) as info:
        mobilenet_v1(**kwargs)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)  # callers catching ValueError keep working


@pytest.mark.parametrize("field", ["in_ch", "out_ch", "kernel", "stride"])
def test_a_layer_refuses_integers_past_the_spec_bound(field):
    """The fast path of Conv2d's checks keeps the bound every other integer of the spec has."""
    from costmodel.checks import MAX_SIZE
    from costmodel.spec.layers import Conv2d

    fields = {"in_ch": 4, "out_ch": 4, "kernel": 3, "stride": 1, field: MAX_SIZE + 1}
    with pytest.raises(SpecError, match=f"{field} must be at most"):
        Conv2d("c", **fields)

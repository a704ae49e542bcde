"""The cost engine: the paper's formulas as identities, per-layer sums, conventions, formulas, errors."""

from dataclasses import dataclass
from fractions import Fraction

import pytest
from _networks import tiny
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel
from costmodel import Conv2d, ConventionError, Linear, Network, count, formula, mobilenet_v1
from costmodel.counting.conventions import OPTIONS, get_convention
from costmodel.spec.layers import Add, Mul


def standard(m, n, k, d):
    return Network([Conv2d("conv", m, n, k)], input_size=d, in_ch=m)


def separable(m, n, k, d):
    return Network([Conv2d("dw", m, m, k, groups=m), Conv2d("pw", m, n, 1)], input_size=d, in_ch=m)


@settings(max_examples=300, deadline=None)
@given(k=st.integers(1, 7), m=st.integers(1, 300), n=st.integers(1, 300), d=st.integers(1, 60))
def test_separable_over_standard_is_one_over_n_plus_one_over_dk2(k, m, n, d):
    """Eq. (5): (D_K²·M·D_F² + M·N·D_F²) / (D_K²·M·N·D_F²) = 1/N + 1/D_K², exactly."""
    sep, std = count(separable(m, n, k, d)), count(standard(m, n, k, d))
    assert Fraction(sep.mult_adds, std.mult_adds) == Fraction(1, n) + Fraction(1, k * k)
    # and each against the paper's formulas written out here (eqs. 2 and 4)
    assert std.mult_adds == k * k * m * n * d * d
    assert sep.mult_adds == k * k * m * d * d + m * n * d * d
    assert sep.params == k * k * m + m * n and std.params == k * k * m * n


@settings(max_examples=200, deadline=None)
@given(
    q=st.sampled_from([1, 2, 4, 5, 8]),
    p=st.integers(1, 8),
    mult=st.integers(1, 40),
    nmult=st.integers(1, 40),
    d=st.integers(1, 20),
    rq=st.sampled_from([1, 2, 4, 7]),
    rp=st.integers(1, 7),
)
def test_pointwise_scales_with_alpha2_rho2(q, p, mult, nmult, d, rq, rp):
    """With α = p/q and ρ = rp/rq chosen so that αM, αN and ρD_F are integers."""
    if p > q or rp > rq:
        return
    alpha, rho = Fraction(p, q), Fraction(rp, rq)
    m, n, size = q * mult, q * nmult, rq * d
    base = count(Network([Conv2d("pw", m, n, 1)], input_size=size, in_ch=m))
    am, an, rs = int(alpha * m), int(alpha * n), int(rho * size)
    scaled = count(Network([Conv2d("pw", am, an, 1)], input_size=rs, in_ch=am))
    assert Fraction(scaled.mult_adds) == alpha**2 * rho**2 * base.mult_adds
    assert Fraction(scaled.params) == alpha**2 * base.params


@settings(max_examples=100, deadline=None)
@given(
    alpha=st.floats(0.05, 2.0, allow_nan=False),
    r1=st.integers(32, 400),
    r2=st.integers(32, 400),
    shallow=st.booleans(),
    sep=st.booleans(),
)
def test_params_do_not_depend_on_resolution(alpha, r1, r2, shallow, sep):
    a = count(mobilenet_v1(alpha, r1, shallow=shallow, separable=sep))
    b = count(mobilenet_v1(alpha, r2, shallow=shallow, separable=sep))
    assert a.params == b.params
    assert [lc.params for lc in a.layers] == [lc.params for lc in b.layers]


@settings(max_examples=100, deadline=None)
@given(
    alpha=st.floats(0.05, 2.0, allow_nan=False),
    r=st.integers(32, 400),
    shallow=st.booleans(),
    sep=st.booleans(),
    conv=st.sampled_from(["paper", "paper+bias+bn-stats+bn-ops+activation-ops+pool-ops"]),
)
def test_rows_add_up_to_totals(alpha, r, shallow, sep, conv):
    c = count(mobilenet_v1(alpha, r, shallow=shallow, separable=sep), conv)
    t = c.table()
    assert int(t["params"].sum()) == c.params and int(t["mult_adds"].sum()) == c.mult_adds
    assert t["mult_adds_pct"].sum() == pytest.approx(100.0, abs=1e-9)  # float shares of exact integer parts
    assert c.flops == 2 * c.mult_adds


def test_table2_categories():
    kinds = count(mobilenet_v1()).by_kind()
    assert list(kinds) == ["Conv 3x3", "Conv DW 3x3", "Conv 1x1", "Avg Pool", "FC", "Softmax"]
    assert kinds["Avg Pool"] == kinds["Softmax"] == (0, 0)


def _bn_channels(net):
    return sum(n.out_ch for n in net if isinstance(n.layer, Conv2d) and n.layer.batch_norm)


def _elements(net, pred):
    return sum(n.out_ch * n.out_size**2 for n in net if pred(n.layer))


@pytest.mark.parametrize("alpha, resolution", [(1.0, 224), (0.5, 160), (0.75, 131)])
def test_options_add_what_they_say(alpha, resolution):
    """Each named option, checked against a sum written independently over the spec."""
    net = mobilenet_v1(alpha, resolution)
    paper = count(net)
    classes = net["fc"].layer.out_features
    pooled_in = net["pool"].in_ch * net["pool"].in_size ** 2
    expected = {
        "bias": (classes, 0),  # only the FC layer has a bias
        "bn": (2 * _bn_channels(net), 0),
        "bn-stats": (4 * _bn_channels(net), 0),
        "bias-ops": (0, classes),
        "bn-ops": (0, _elements(net, lambda layer: isinstance(layer, Conv2d))),
        "activation-ops": (0, _elements(net, lambda layer: isinstance(layer, Conv2d))),
        "pool-ops": (0, pooled_in),
        "elementwise-ops": (0, 0),  # MobileNetV1 has no residual add, no squeeze-and-excite
    }
    assert set(expected) == set(OPTIONS)
    for option, (dp, dm) in expected.items():
        c = count(net, f"paper+{option}")
        assert (c.params - paper.params, c.mult_adds - paper.mult_adds) == (dp, dm), option


def test_unknown_layer_type_is_an_error_not_a_zero():
    @dataclass(frozen=True)
    class Mystery:
        name: str

    from costmodel.counting.engine import layer_cost
    from costmodel.spec.network import Node

    with pytest.raises(ConventionError, match="no cost rule for layer type Mystery"):
        layer_cost(Node(Mystery("m"), 3, 8, 3, 8), get_convention())


@pytest.mark.parametrize(
    "bad, message",
    [
        ("flops", "unknown convention 'flops'"),
        ("paper+biases", "unknown counting option 'biases'"),
        (3, "convention must be a name or a Convention, got 3"),
    ],
)
def test_unknown_convention(bad, message):
    with pytest.raises(ConventionError, match=message.replace("+", r"\+")):
        count(mobilenet_v1(), bad)


FORMULAS = [
    ("conv1", "D_K·D_K·M·N·D_F·D_F = 3·3·3·32·112·112 = 10,838,016"),
    ("conv_dw_1", "D_K·D_K·M·D_F·D_F = 3·3·32·112·112 = 3,612,672"),
    ("conv_pw_1", "M·N·D_F·D_F = 32·64·112·112 = 25,690,112"),
    ("fc", "M·N = 1024·1000 = 1,024,000"),
    ("pool", "0 (no multiply-accumulates)"),
]


@pytest.mark.parametrize("name, text", FORMULAS)
def test_formula_substitutes_values(name, text):
    node = mobilenet_v1()[name]
    assert formula(node) == text
    # the number in the formula is the engine's own count for that layer
    lc = next(lc for lc in count(mobilenet_v1()).layers if lc.name == name)
    assert text.endswith(f"{lc.mult_adds:,}") or lc.mult_adds == 0


def test_linear_counts_in_times_out():
    net = Network([Linear("fc", 12, 5)], input_size=1, in_ch=12)
    c = count(net)
    assert (c.params, c.mult_adds) == (60, 60)
    assert count(net, "paper+bias").params == 65


@pytest.mark.parametrize("name", ["mobilenet_v2", "tiny", "mobilenet_v3_small", "efficientnet_b0"])
def test_elementwise_ops_count_every_add_and_multiply(name):
    """One op per output element of each residual add and SE multiply, summed here from the blocks' nodes."""
    net = tiny() if name == "tiny" else costmodel.network(name)
    merges = [n for n in net.leaves() if isinstance(n.layer, (Add, Mul))]
    assert merges
    expected = sum(n.out_ch * n.out_size**2 for n in merges)
    assert count(net, "paper+elementwise-ops").mult_adds - count(net).mult_adds == expected

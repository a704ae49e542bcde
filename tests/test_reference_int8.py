"""The int8 reference (costmodel.reference.int8): its fixed-point arithmetic against a Python-integer oracle of
TFLite's C++ semantics, its outputs bit for bit against LiteRT's reference kernels (a recorded fixture, and LiteRT
run live) and within one unit of LiteRT's default (XNNPACK) kernels, layer by layer."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
from _litert import images, layer_networks, run_litert, small_networks
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.errors import InputError
from costmodel.reference import init_weights, run_int8, to_tflite
from costmodel.reference.int8 import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import record_int8_litert as recording  # noqa: E402

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


# The oracle: gemmlowp's and TFLite's functions on Python integers, line by line from common.h.
def _srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    q = abs(ab + nudge) // (1 << 31)  # C++ division truncates toward zero
    return q if ab + nudge >= 0 else -q


def _rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@settings(max_examples=300, deadline=None)
@given(a=st.integers(INT32_MIN, INT32_MAX), b=st.integers(0, INT32_MAX))
def test_saturating_rounding_doubling_high_mul(a, b):
    assert int(saturating_rounding_doubling_high_mul(np.array([a]), np.array([b]))[0]) == _srdhm(a, b)


@settings(max_examples=300, deadline=None)
@given(x=st.integers(INT32_MIN, INT32_MAX), exponent=st.integers(0, 31))
def test_rounding_divide_by_pot(x, exponent):
    assert int(rounding_divide_by_pot(np.array([x]), np.array([exponent]))[0]) == _rdbpot(x, exponent)


def test_srdhm_saturates():
    assert int(saturating_rounding_doubling_high_mul(np.array([INT32_MIN]), np.array([INT32_MIN]))[0]) == INT32_MAX


@pytest.mark.parametrize(
    "real,want",
    [
        (0.5, (1 << 30, 0)),  # 0.5 = 2**30 / 2**31
        (0.75, (3 << 29, 0)),
        (1.0, (1 << 30, 1)),
        (0.1, (1717986918, -3)),  # round(0.8 * 2**31), 0.1 = 0.8 / 8
        (1 - 2**-40, (1 << 30, 1)),  # rounds up to 2**31: halved, shift + 1
        (2**-40, (0, 0)),  # below 2**-31: flushed to zero
        (0.0, (0, 0)),
    ],
)
def test_quantize_multiplier(real, want):
    m, s = quantize_multiplier(real)
    assert (int(m), int(s)) == want


@settings(max_examples=200, deadline=None)
@given(x=st.integers(-(2**24), 2**24), real=st.floats(1e-6, 0.999))
def test_multiply_by_quantized_multiplier_rounds_to_nearest(x, real):
    """Within one of round(x · real): the fixed-point multiplier is exact to 2**-31, and rounds twice."""
    m, s = quantize_multiplier(real)
    got = int(multiply_by_quantized_multiplier(np.array([x]), m, s)[0])
    assert got == _rdbpot(_srdhm(x * (1 << max(int(s), 0)), int(m)), max(-int(s), 0))
    assert abs(got - x * real) <= 1


FIXTURE = np.load(FIXTURES / "int8_litert_ref.npz")
CASES = recording.cases()


@pytest.mark.parametrize("name", list(CASES))
def test_bit_exact_against_the_recorded_litert_reference(name):
    """The oracle recorded from LiteRT's reference kernels (tests/fixtures/record_int8_litert.py)."""
    names = [str(n) for n in FIXTURE[f"{name}/range_names"]]
    ranges = dict(zip(names, map(tuple, FIXTURE[f"{name}/range_values"]), strict=True))
    data, q, _ = recording.export(CASES[name], ranges)
    assert hashlib.sha256(data).hexdigest() == str(FIXTURE[f"{name}/sha256"]), (
        "the export writes other bytes than when the fixture was recorded: run "
        "tests/fixtures/record_int8_litert.py again"
    )
    np.testing.assert_array_equal(run_int8(q, FIXTURE[f"{name}/input"]), FIXTURE[f"{name}/output"])


@pytest.mark.parametrize("name", list(CASES))
def test_bit_exact_against_litert_reference_kernels_live(name):
    """The same networks on other weights and images, LiteRT run now (``OpResolverType.BUILTIN_REF``)."""
    pytest.importorskip("ai_edge_litert")
    net = CASES[name]
    weights = init_weights(net, seed=17)
    data, q = to_tflite(net, weights, dtype="int8", representative=images(net, 4, seed=2))
    x = q.quantize_input(images(net, 2, seed=9, spread=1.3))
    np.testing.assert_array_equal(run_int8(q, x), run_litert(data, x, "ref"))


@pytest.mark.parametrize("name", list(layer_networks()))
def test_within_one_unit_of_xnnpack_per_layer(name):
    """LiteRT's default kernels (XNNPACK) requantise in their own way: one layer differs by at most one unit.
    Through a whole network the differences compound (measured: up to 5 units on MobileNetV1 0.25-32's
    logits, 56 on MobileNetV2's), so whole networks are compared on the reference kernels only."""
    pytest.importorskip("ai_edge_litert")
    net = layer_networks()[name]
    weights = init_weights(net, seed=23)
    data, q = to_tflite(net, weights, dtype="int8", representative=images(net, 6, seed=4))
    x = q.quantize_input(images(net, 8, seed=8, spread=1.3))
    diff = np.abs(run_int8(q, x).astype(np.int32) - run_litert(data, x, "default").astype(np.int32))
    assert diff.max() <= 1


def test_trace_and_dequantize():
    net = small_networks()["mobilenet_v1_0.25_32"]
    weights = init_weights(net, seed=1)
    _, q = to_tflite(net, weights, dtype="int8", representative=images(net, 4, seed=0))
    x = q.quantize_input(images(net, 2, seed=3))
    values = run_int8(q, x, trace=True)
    assert set(values) == {"input", *(op.output for op in q.graph.ops)}
    assert all(v.dtype == np.int8 for v in values.values())
    from costmodel.reference import forward

    # The dequantised logits approximate the float network's (int8 noise through 28 layers: measured 10 %).
    logits = q.dequantize_output(values[q.graph.output])
    want = forward(net, weights, images(net, 2, seed=3))
    assert np.abs(logits - want).max() <= 0.3 * np.abs(want).max()


def test_bad_input():
    net = small_networks()["mobilenet_v1_0.25_32"]
    _, q = to_tflite(net, init_weights(net), dtype="int8", representative=images(net, 2, seed=0))
    with pytest.raises(InputError, match="int8 input of shape"):
        run_int8(q, images(net, 1, seed=0))  # float, not quantised
    with pytest.raises(InputError, match="int8 input of shape"):
        run_int8(q, np.zeros((1, 31, 31, 3), np.int8))

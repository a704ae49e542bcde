"""The int8 reference: a quantised network run in integer arithmetic, as TFLite's reference kernels run it.

Each operator of a :class:`~costmodel.reference.tflite_graph.QuantizedGraph` runs on int8 tensors:

- convolution and depthwise convolution (and fully connected layers) accumulate ``w x (x - x_zero_point)`` in
  int32 (padding contributes nothing, as the kernels skip it), add the int32 bias, then requantise with a
  fixed-point multiplier per output channel: :func:`quantize_multiplier` (TFLite's ``QuantizeMultiplier``) and
  :func:`multiply_by_quantized_multiplier` (``SaturatingRoundingDoublingHighMul`` then
  ``RoundingDivideByPOT``, from ``tensorflow/lite/kernels/internal/common.h``), add the output zero point and
  clamp to the fused activation's range (``CalculateActivationRangeQuantized``). A fully connected layer
  requantises as LiteRT's reference kernel does, ``round(acc x scale)`` in double precision (:func:`_fc`);
- average pooling sums the int8 values in each window (the input's elements only) and divides with rounding
  half away from zero; max pooling takes the maximum; both keep their input's quantisation;
- addition rescales both inputs to a common scale with 20 bits of headroom and requantises the sum
  (``reference_integer_ops::Add``);
- reshaping, zero-point padding and concatenation (its inputs share its quantisation) move int8 values.

The products run as float64 matrix products: every partial sum is an integer of magnitude below 2**53, so they
are exact, and fast. No Python loop runs over pixels or channels. ``tests/test_reference_int8.py`` checks the
outputs bit for bit against LiteRT's reference kernels (``OpResolverType.BUILTIN_REF``) and within one unit
against its default (XNNPACK) kernels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import InputError, SpecError
from ..spec.layers import same_padding
from .tflite_graph import GraphOp, Quant, QuantizedGraph, tflite_round

__all__ = [
    "quantize_multiplier",
    "saturating_rounding_doubling_high_mul",
    "rounding_divide_by_pot",
    "multiply_by_quantized_multiplier",
    "activation_range",
    "run_int8",
]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def quantize_multiplier(real: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's ``QuantizeMultiplier``: real = multiplier x 2**(shift - 31), multiplier an int32 in [2**30, 2**31).

    Returns
    -------
    multiplier : ndarray of int64
    shift : ndarray of int64
        Positive: a left shift; negative: a right shift.

    >>> m, s = quantize_multiplier(0.25)
    >>> int(m), int(s)
    (1073741824, -1)
    """
    real = np.asarray(real, np.float64)
    q, shift = np.frexp(real)  # real = q * 2**shift, q in [0.5, 1)
    fixed = tflite_round(q * float(1 << 31)).astype(np.int64)
    carry = fixed == (1 << 31)
    fixed = np.where(carry, fixed // 2, fixed)
    shift = shift.astype(np.int64) + carry
    tiny = shift < -31  # flushed to zero, as TFLite does
    zero = real == 0
    fixed = np.where(tiny | zero, 0, fixed)
    shift = np.where(tiny | zero, 0, shift)
    return fixed, shift


def _wrap32(x: np.ndarray) -> np.ndarray:
    """int64 values as int32 arithmetic would leave them (two's complement wrap-around)."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` on int32 values (held in int64): round(a·b / 2**31)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    nudged = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))  # C++ division truncates toward zero
    return np.where((a == b) & (a == _INT32_MIN), _INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """gemmlowp's ``RoundingDivideByPOT``: x / 2**exponent rounded to nearest, halves away from zero."""
    x, exponent = np.asarray(x, np.int64), np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return np.asarray((x >> exponent) + (remainder > threshold), np.int64)


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """TFLite's ``MultiplyByQuantizedMultiplier`` (double rounding): x · multiplier · 2**(shift - 31)."""
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = _wrap32(np.asarray(x, np.int64) * (np.int64(1) << left))
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def activation_range(activation: str | None, q: Quant) -> tuple[int, int]:
    """``CalculateActivationRangeQuantized``: the int8 output range of a fused activation (float32 arithmetic)."""

    def quantize(f: float) -> int:
        return q.zero_point + int(tflite_round(np.float32(f) / np.float32(q.scale)))

    if activation == "relu":
        return max(-128, quantize(0.0)), 127
    if activation == "relu6":
        return max(-128, quantize(0.0)), min(127, quantize(6.0))
    if activation is None:
        return -128, 127
    raise SpecError(f"activation {activation!r} has no int8 range")


def _windows(x: np.ndarray, op: GraphOp, fill: int) -> tuple[np.ndarray, np.ndarray]:
    """(windows (N, H', W', C, K, K), mask of the taps inside the input (H', W', K, K)) for a SAME or VALID op."""
    n, size = x.shape[0], x.shape[1]
    k, s, out = op.kernel, op.stride, op.shape[1]
    before = same_padding(size, k, s)[0] if op.padding == "SAME" else 0
    after = max(0, (out - 1) * s + k - size - before)
    xp = np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)), constant_values=fill)
    windows = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::s, ::s][:, :out, :out]
    inside = np.pad(np.ones((size, size), bool), ((before, after), (before, after)))
    mask = sliding_window_view(inside, (k, k))[::s, ::s][:out, :out]
    assert windows.shape[:3] == (n, out, out)
    return windows, mask


def _requantize(acc: np.ndarray, op: GraphOp, qg: QuantizedGraph, real_multiplier: np.ndarray) -> np.ndarray:
    multiplier, shift = quantize_multiplier(real_multiplier)
    out_q = qg.tensors[op.output]
    y = multiply_by_quantized_multiplier(acc, multiplier, shift) + out_q.zero_point
    lo, hi = activation_range(op.activation, out_q)
    return np.asarray(np.clip(y, lo, hi), np.int8)


def _accumulate(op: GraphOp, qg: QuantizedGraph, x: np.ndarray) -> np.ndarray:
    """int32 accumulators (held in int64) of a conv, depthwise or FC op, bias included."""
    in_q = qg.tensors[op.inputs[0]]
    w = qg.weights[op.name].astype(np.float64)
    xs = x.astype(np.float64) - in_q.zero_point  # padding holds the zero point: it contributes 0
    if op.kind == "fc":
        acc = xs.reshape(x.shape[0], -1) @ w.T
    else:
        windows, _ = _windows(xs, op, 0)  # (N, H', W', C, K, K)
        if op.kind == "depthwise":
            acc = np.einsum("nhwcij,ijc->nhwc", windows, w[0])
        else:  # (O, K, K, I)
            acc = np.tensordot(windows, w, axes=([3, 4, 5], [3, 1, 2]))
    acc = acc.astype(np.int64)  # exact: integer partial sums below 2**53
    if op.name in qg.biases:
        acc = acc + qg.biases[op.name].astype(np.int64)
    return np.asarray(acc, np.int64)


def _real_multiplier(op: GraphOp, qg: QuantizedGraph) -> np.ndarray:
    """input scale x weight scale / output scale per output channel, in double from the file's float32 scales
    (``PopulateConvolutionQuantizationParams``)."""
    s_in = float(qg.tensors[op.inputs[0]].scale)
    s_out = float(qg.tensors[op.output].scale)
    return s_in * qg.weight_scales[op.name].astype(np.float64) / s_out


def _conv(op: GraphOp, qg: QuantizedGraph, x: np.ndarray) -> np.ndarray:
    return _requantize(_accumulate(op, qg, x), op, qg, _real_multiplier(op, qg))


def _fc(op: GraphOp, qg: QuantizedGraph, x: np.ndarray) -> np.ndarray:
    """LiteRT's reference int8 FULLY_CONNECTED (``reference_integer_ops::FullyConnected`` with float scales):
    ``round(double(acc) x effective scale)``, halves away from zero, rather than the fixed-point multiplier its
    optimised kernel (and every convolution kernel) uses; the two differ by one where the fixed-point path
    rounds twice across a half."""
    acc = _accumulate(op, qg, x)
    out_q = qg.tensors[op.output]
    y = tflite_round(acc.astype(np.float64) * _real_multiplier(op, qg)).astype(np.int64) + out_q.zero_point
    lo, hi = activation_range(op.activation, out_q)
    return np.asarray(np.clip(y, lo, hi), np.int8)


def _avg_pool(op: GraphOp, qg: QuantizedGraph, x: np.ndarray) -> np.ndarray:
    windows, mask = _windows(x.astype(np.int64), op, 0)
    acc = windows.sum(axis=(-2, -1))  # padding adds zeros; the count has only the input's elements
    count = mask.sum(axis=(-2, -1))[None, :, :, None].astype(np.int64)
    half = count // 2
    up = np.where(acc > 0, acc + half, acc - half)
    y = np.where(up >= 0, up // count, -((-up) // count))  # C++ division truncates toward zero
    lo, hi = activation_range(op.activation, qg.tensors[op.output])
    return np.asarray(np.clip(y, lo, hi), np.int8)


def _max_pool(op: GraphOp, qg: QuantizedGraph, x: np.ndarray) -> np.ndarray:
    windows, _ = _windows(x, op, -128)  # padding never wins a max
    lo, hi = activation_range(op.activation, qg.tensors[op.output])
    return np.asarray(np.clip(windows.max(axis=(-2, -1)), lo, hi), np.int8)


def _add(op: GraphOp, qg: QuantizedGraph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``reference_integer_ops::Add`` with ``add.cc``'s int8 parameters (left shift 20)."""
    qa, qb, qo = (qg.tensors[t] for t in (*op.inputs, op.output))
    left_shift = 20
    twice_max = 2.0 * float(max(np.float32(qa.scale), np.float32(qb.scale)))
    ma, sa = quantize_multiplier(float(qa.scale) / twice_max)
    mb, sb = quantize_multiplier(float(qb.scale) / twice_max)
    mo, so = quantize_multiplier(twice_max / (float(np.float32(1 << left_shift) * np.float32(qo.scale))))
    xa = (a.astype(np.int64) - qa.zero_point) * (1 << left_shift)
    xb = (b.astype(np.int64) - qb.zero_point) * (1 << left_shift)
    total = multiply_by_quantized_multiplier(xa, ma, sa) + multiply_by_quantized_multiplier(xb, mb, sb)
    y = multiply_by_quantized_multiplier(total, mo, so) + qo.zero_point
    lo, hi = activation_range(op.activation, qo)
    return np.asarray(np.clip(y, lo, hi), np.int8)


def _pad(op: GraphOp, qg: QuantizedGraph, x: np.ndarray) -> np.ndarray:
    before, after = op.pads
    fill = qg.tensors[op.inputs[0]].zero_point  # a real zero
    return np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)), constant_values=fill)


def _concat(op: GraphOp, qg: QuantizedGraph, *xs: np.ndarray) -> np.ndarray:
    return np.concatenate(xs, axis=-1)  # every input has the output's quantisation (tflite_graph.quantize)


def _reshape(op: GraphOp, qg: QuantizedGraph, x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], *op.shape[1:])


_RUN: dict[str, Callable[..., np.ndarray]] = {
    "reshape": _reshape,
    "concat": _concat,
    "conv": _conv,
    "depthwise": _conv,
    "fc": _fc,
    "avg_pool": _avg_pool,
    "max_pool": _max_pool,
    "pad": _pad,
    "add": _add,
}


def run_int8(qgraph: QuantizedGraph, x: np.ndarray, *, trace: bool = False) -> np.ndarray | dict[str, np.ndarray]:
    """Run a quantised graph on int8 input ``x`` in integer arithmetic.

    Parameters
    ----------
    qgraph : QuantizedGraph
        From :func:`~costmodel.reference.tflite_graph.quantize` (or the int8 export's ``to_tflite``).
    x : ndarray of int8, shape (N, R, R, C)
        :meth:`~costmodel.reference.tflite_graph.QuantizedGraph.quantize_input` of preprocessed images.
    trace : bool
        Return every tensor (``{name: int8 array}``) instead of the output alone.

    Returns
    -------
    ndarray of int8, shape (N, classes)
        The logits, quantised (:meth:`~.QuantizedGraph.dequantize_output` gives floats).
    """
    if not isinstance(qgraph, QuantizedGraph):
        raise InputError(f"run_int8 needs a QuantizedGraph (from quantize()), got {type(qgraph).__name__}")
    g = qgraph.graph
    want = g.input_shape[1:]
    if not isinstance(x, np.ndarray) or x.dtype != np.int8 or x.ndim != 4 or x.shape[1:] != want:
        got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise InputError(f"run_int8 needs int8 input of shape (N, {', '.join(map(str, want))}), got {got}")
    values: dict[str, np.ndarray] = {g.input: x}
    for op in g.ops:
        inputs = [values[t] for t in op.inputs]
        values[op.output] = _RUN[op.kind](op, qgraph, *inputs)
    return values if trace else values[g.output]

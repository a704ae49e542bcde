"""NumPy kernels for the reference executor: NHWC float32, no Python loop over channels or pixels.

Every kernel that multiplies returns ``(output, mult_adds)``, where ``mult_adds`` is counted from the operand
shapes of the products it actually performs (one matrix product, or ``K*K`` broadcast multiply-adds), for the
whole batch. Zero padding is materialised and multiplied like any other input, which is what the cost engine
counts (D_K·D_K·M·D_F·D_F covers the border taps too).

Padding is the spec's, layer by layer (:data:`costmodel.spec.layers.Padding`): ``"tf_same"`` (TF SAME, the odd
extra row/column after), an integer on every side (PyTorch, e.g. timm's ``padding=1``), or an explicit
``(before, after)`` (Keras' ``(0, 1)`` before a stride-2 depthwise layer). :func:`pads` turns it into the
rows each layer reads; the executor has no padding setting of its own.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from ..errors import SpecError
from ..spec.layers import ACTIVATIONS, Padding, explicit_padding

__all__ = [
    "ACTIVATIONS",
    "pads",
    "conv2d",
    "depthwise_conv2d",
    "tile_depthwise",
    "PlaneLayout",
    "depthwise_planes",
    "depthwise_method",
    "DEPTHWISE_METHODS",
    "EINSUM_MIN_CHANNELS",
    "BAND_ELEMENTS",
    "depthwise_weights",
    "plane_layout",
    "ROW_BAND_ELEMENTS",
    "FLAT_MAX_CHANNELS",
    "flat_tiled",
    "FlatPlan",
    "flat_plan",
    "depthwise_flat",
    "pointwise_conv2d",
    "fold_batch_norm",
    "activate",
    "CLAMPS",
    "add",
    "scale_channels",
    "clamp",
    "clamp_bounds",
    "adaptive_windows",
    "global_avg_pool",
    "linear",
    "softmax",
]


#: The activations that are a clamp (``max``/``clip``), so that a bias can be carried past them; the others
#: (h-swish, h-sigmoid, SiLU, sigmoid) are applied by :func:`activate` after the bias.
CLAMPS = (None, "relu", "relu6")

Bound = np.ndarray | np.float32 | None  # a clamp bound: per channel, one value, or none


def clamp_bounds(activation: str | None, shift: np.ndarray | None = None) -> tuple[Bound, Bound]:
    """(lo, hi) such that ``clamp(z, lo, hi) == activation(z + shift) - shift`` (per channel).

    With ``shift=None`` this is the activation itself: ReLU is ``max(z, 0)``, ReLU6 ``clip(z, 0, 6)``. With a
    shift (a layer's bias), ``max(z, -b) = relu(z + b) - b`` needs no separate bias pass: the executor carries
    ``b`` into the next linear layer instead (see :mod:`costmodel.reference.executor`).
    """
    if activation not in CLAMPS:
        raise SpecError(f"activation {activation!r} is not a clamp; clamp_bounds takes one of {CLAMPS}")
    if activation is None:
        return None, None
    if shift is None:
        return np.float32(0), (np.float32(6) if activation == "relu6" else None)
    lo = (-shift).astype(np.float32)
    return lo, ((6 - shift).astype(np.float32) if activation == "relu6" else None)


def clamp(y: np.ndarray, lo: Bound, hi: Bound, out: np.ndarray | None = None) -> np.ndarray:
    """``out = min(max(y, lo), hi)`` in one pass (a copy without bounds); ``out`` defaults to ``y``."""
    out = y if out is None else out
    if lo is None:
        if out is not y:
            np.copyto(out, y)
    elif hi is None:
        np.maximum(y, lo, out=out)
    else:
        np.clip(y, lo, hi, out=out)
    return out


def pads(padding: Padding, in_size: int, out_size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) zero padding of one axis for a layer's spec ``padding``, so that ``out_size`` windows fit.

    ``after`` is what the last window needs (it may be less than the spec's: the rows a strided window never
    reaches are not padded). Raises :class:`SpecError` if the padded input cannot give ``out_size`` windows.

    Examples
    --------
    >>> pads("tf_same", 224, 112, 3, 2), pads(1, 224, 112, 3, 2), pads((0, 1), 224, 112, 3, 2)
    ((0, 1), (1, 0), (0, 1))
    >>> pads("tf_same", 7, 7, 3, 1), pads("tf_same", 7, 4, 3, 2), pads((0, 1), 7, 3, 3, 2)
    ((1, 1), (1, 1), (0, 0))
    """
    before = explicit_padding(padding, in_size, kernel, stride)[0]
    after = (out_size - 1) * stride + kernel - in_size - before
    if after < 0:  # the last window ends inside the input: rows past it are never read
        after = 0
    if (in_size + before + after - kernel) // stride + 1 != out_size:
        raise SpecError(
            f"padding {before}+{after} on {in_size} cannot give {out_size} windows of {kernel} at stride {stride}"
        )
    return before, after


def conv2d(
    xp: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    stride: int,
    out_size: int,
    cols: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Standard convolution by im2col and one matrix product.

    Parameters
    ----------
    xp : ndarray, shape (N, Hp, Wp, M)
        Input, already zero padded.
    kernel : ndarray, shape (K, K, M, N_out)
        Keras layout (BN already folded in, if any).
    bias : ndarray, shape (N_out,), or None
    stride : int
    out_size : int
        Output height and width (from the network's node).
    cols, out : ndarray, optional
        Workspace (N, out, out, K, K, M) and output (N, out, out, N_out) to reuse.

    Returns
    -------
    y : ndarray, shape (N, out_size, out_size, N_out)
    mult_adds : int
        Rows x inner x columns of the matrix product: N·D_F·D_F · K·K·M · N_out.
    """
    n, c = xp.shape[0], xp.shape[3]
    k, cout = kernel.shape[0], kernel.shape[3]
    extent = (out_size - 1) * stride + k
    if xp.shape[1] < extent or xp.shape[2] < extent:
        raise SpecError(f"padded input {xp.shape} is too small for {out_size} windows of {k} at stride {stride}")
    xp = np.ascontiguousarray(xp)  # a no-op for the executor's buffers
    if cols is None:
        cols = np.empty((n, out_size, out_size, k, k, c), dtype=xp.dtype)
    # Window row dy of output (y, x) is one contiguous run of K*M values of padded row y*s + dy: copy all
    # of them at once from a strided view, (N, out, out, K, K*M), rather than K*K copies of M-long pieces.
    sn, sy, sx, _ = xp.strides
    windows = as_strided(xp, shape=(n, out_size, out_size, k, k * c),
                         strides=(sn, stride * sy, stride * sx, sy, xp.itemsize), writeable=False)  # fmt: skip
    np.copyto(cols.reshape(n, out_size, out_size, k, k * c), windows)
    a = cols.reshape(n * out_size * out_size, k * k * c)
    b = kernel.reshape(k * k * c, cout)
    y = np.matmul(a, b, out=None if out is None else out.reshape(a.shape[0], cout))
    if bias is not None:
        y += bias
    return y.reshape(n, out_size, out_size, cout), a.shape[0] * a.shape[1] * b.shape[1]


#: Output elements per band of the depthwise kernel: a band's output and scratch (2 x 128 KiB) stay in L2.
BAND_ELEMENTS = 32768

#: Output elements per band of :func:`depthwise_flat`: 4 MiB, so every layer of MobileNetV1 1.0-224 is one
#: band per image. Measured in the whole network on one core, smaller bands (to keep a band in L2 for its
#: bias and clamp) only cost more calls: 32768, 131072 and 262144 elements were 5 %, 2 % and 1 % slower.
ROW_BAND_ELEMENTS = 1 << 20


def tile_depthwise(kernel: np.ndarray, out_size: int) -> np.ndarray:
    """Repeat each tap's (C,) weights along a row: (K, K, C) -> (K*K, out_size*C), float32.

    With the weights laid out like a whole output row, every multiply in :func:`depthwise_conv2d` runs over
    one contiguous (out_size*C) row instead of C-long pieces.
    """
    k, c = kernel.shape[0], kernel.shape[2]
    return np.ascontiguousarray(np.tile(kernel.reshape(k * k, 1, c), (1, out_size, 1)).reshape(k * k, out_size * c))


DEPTHWISE_METHODS = ("taps", "einsum")

#: From this many channels on, the einsum depthwise kernel beats the banded taps (measured on one core on
#: MobileNetV1 1.0-224's layer shapes: einsum 2x faster at 256-512 channels, 1.3x at 128, 1.6x slower at 32).
EINSUM_MIN_CHANNELS = 64

#: Below this many channels, a stride-1 layer runs :func:`depthwise_flat` with row-tiled weights; from
#: there on, einsum over padded planes (measured on one core in the whole network at 1.0-224: at 32 and 128
#: channels "flat" is 4 % faster than the best of taps/einsum and the layer before saves its padded copy,
#: 0.17 ms each; from 256 channels on the tiled weights are as large as the input, and the column groups'
#: nine einsums per map cost more than the copy saves: dw 0.44 ms vs 0.34 ms at 14x14x512).
FLAT_MAX_CHANNELS = 256


def depthwise_method(channels: int, stride: int = 1) -> str:
    """The fastest depthwise kernel for a layer's channels and stride: "flat" (:func:`depthwise_flat`,
    reads the layer before's output where it was written, unpadded), "einsum" or "taps" (on padded planes;
    :func:`depthwise_planes`).

    Measured on one core in the whole network at 1.0-224, stride 2 with column groups: 64, 128 and 256
    channels 0.33, 0.21 and 0.09 ms faster than einsum, the layer before's copy included. Below 64 channels
    einsum's and the column groups' inner loops over channels are too short: taps.
    """
    if stride == 1:
        return "flat" if channels < FLAT_MAX_CHANNELS else "einsum"
    return "flat" if channels >= EINSUM_MIN_CHANNELS else "taps"


def flat_tiled(channels: int, stride: int) -> bool:
    """Whether a "flat" layer gets row-tiled weights (else column groups; see :class:`FlatPlan`)."""
    return stride == 1 and channels < FLAT_MAX_CHANNELS


def _depthwise_einsum(
    xp: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    stride: int,
    k: int,
    out_size: int,
    out: np.ndarray | None,
    lo: Bound,
    hi: Bound,
) -> tuple[np.ndarray, int]:
    """Depthwise convolution as one einsum over the (N, out, out, C, K, K) window view of padded ``xp``."""
    windows = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    if windows.shape[1] != out_size or windows.shape[2] != out_size:
        raise SpecError(f"padded input {xp.shape} gives {windows.shape[1:3]} windows, not {out_size}")
    y = np.einsum("nhwcij,ijc->nhwc", windows, kernel, out=out)
    if bias is not None:
        y += bias
    return clamp(y, lo, hi), windows.size


@dataclass(frozen=True, slots=True)
class PlaneLayout:
    """How a depthwise layer wants its input: zero padded and split into ``stride x stride`` phase planes.

    Plane (py, px) holds the padded input's rows py, py + s, ... and columns px, px + s, ..., so that every
    tap of a strided window is a contiguous slice of one plane (for stride 1 there is one plane: the padded
    input). The zero border is written once, when the planes are allocated; :meth:`scatter` fills the rest.
    """

    stride: int
    top: int  # zero rows (and columns) before the input
    extent: int  # padded rows (and columns) the windows read: (out_size - 1) * stride + kernel

    def plane_sizes(self) -> list[int]:
        return [len(range(p, self.extent, self.stride)) for p in range(self.stride)]

    def allocate(self, n: int, c: int, fill: np.ndarray | None = None) -> dict[tuple[int, int], np.ndarray]:
        """Planes ``{(py, px): (N, rows, cols, C)}`` filled with zeros, or with ``fill`` (C,) per channel (the
        value that stands for zero when the input is stored shifted; see :func:`clamp_bounds`)."""
        sizes = self.plane_sizes()
        planes = {}
        for py in range(self.stride):
            for px in range(self.stride):
                plane = np.zeros((n, sizes[py], sizes[px], c), np.float32)
                if fill is not None:
                    plane[...] = fill
                planes[py, px] = plane
        return planes

    def _spans(self, size: int) -> list[tuple[slice, slice]]:
        """For each phase p: (input slice, plane slice) of the input rows that land in that phase."""
        s, out = self.stride, []
        last = min(size, self.extent - self.top)  # input rows past the last window are never read
        for p in range(s):
            first = (p - self.top) % s
            rows = range(first, last, s)
            start = (self.top + first) // s
            out.append((slice(first, last, s), slice(start, start + len(rows))))
        return out

    def scatter(
        self,
        x: np.ndarray,
        planes: dict[tuple[int, int], np.ndarray],
        lo: Bound = None,
        hi: Bound = None,
    ) -> dict[tuple[int, int], np.ndarray]:
        """Write ``clamp(x, lo, hi)`` ((N, H, W, C)) into the planes' interiors: one pass over ``x``."""
        spans = self._spans(x.shape[1])
        if self.stride == 1:  # one plane: whole rows, one contiguous run each, bounds laid out along them
            ((src, dst),) = spans
            n, c, plane = x.shape[0], x.shape[3], planes[0, 0]
            width = len(range(x.shape[2])[src])
            rows = plane.reshape(n, plane.shape[1], -1)[:, dst, dst.start * c : dst.stop * c]
            x_rows = x[:, src, src].reshape(n, rows.shape[1], width * c)
            clamp(x_rows, _tile_bound(lo, width), _tile_bound(hi, width), out=rows)
            return planes
        for (py, px), plane in planes.items():
            (src_y, dst_y), (src_x, dst_x) = spans[py], spans[px]
            clamp(x[:, src_y, src_x, :], lo, hi, out=plane[:, dst_y, dst_x, :])
        return planes


def depthwise_conv2d(
    xp: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    stride: int,
    out_size: int,
    out: np.ndarray | None = None,
    *,
    activation: str | None = None,
) -> tuple[np.ndarray, int]:
    """Depthwise convolution as a sum of K*K shifted multiply-adds over views, all channels at once.

    Parameters
    ----------
    xp : ndarray, shape (N, Hp, Wp, C)
        Input, already zero padded.
    kernel : ndarray, shape (K, K, C)
        One K x K filter per channel (Keras' (K, K, C, 1) without the last axis; BN folded in, if any).
    bias : ndarray, shape (C,), or None
    stride, out_size : int
    out : ndarray, shape (N, out_size, out_size, C), optional
        Output buffer to reuse.
    activation : {None, "relu", "relu6"}

    Returns
    -------
    y : ndarray, shape (N, out_size, out_size, C)
    mult_adds : int
        K·K products per output element: K·K·N·D_F·D_F·C.

    See :func:`depthwise_planes` for the fast path the executor uses (input already split into planes).
    """
    k = kernel.shape[0]
    layout = PlaneLayout(stride, 0, (out_size - 1) * stride + k)
    planes = layout.scatter(xp, layout.allocate(xp.shape[0], xp.shape[3]))
    lo, hi = clamp_bounds(activation)
    return depthwise_planes(planes, tile_depthwise(kernel, out_size), bias, stride, k, out_size, out,
                            lo=lo, hi=hi)  # fmt: skip


def depthwise_planes(
    planes: dict[tuple[int, int], np.ndarray],
    tiled: np.ndarray,
    bias: np.ndarray | None,
    stride: int,
    kernel_size: int,
    out_size: int,
    out: np.ndarray | None = None,
    *,
    lo: Bound = None,
    hi: Bound = None,
    band_elements: int | None = None,
    pool: Executor | None = None,
    workers: int = 1,
    method: str = "taps",
) -> tuple[np.ndarray, int]:
    """Depthwise convolution on an input split into phase planes (:class:`PlaneLayout`).

    The output is computed in bands of rows (about ``band_elements`` values each) so that a band and its
    scratch stay in cache across the K*K taps, the bias and the activation; within a band each tap is one
    multiply and one add over a whole (rows, out_size*C) block. No loop over channels or pixels. With a
    ``pool`` of threads, the bands are shared out (NumPy releases the GIL inside each operation).

    Parameters
    ----------
    planes : dict
        ``{(py, px): (N, rows, cols, C)}`` from :meth:`PlaneLayout.scatter`.
    tiled : ndarray
        The kernel as the method wants it (:func:`depthwise_weights`).
    bias : ndarray, shape (C,), or None
    stride, kernel_size, out_size : int
    out : ndarray, shape (N, out_size, out_size, C), optional
    lo, hi : float or ndarray of shape (C,), optional
        After the bias, each band is clamped to [lo, hi] while it is in cache (:func:`clamp_bounds`).
    band_elements : int, optional
        Output values per band (default :data:`BAND_ELEMENTS`).
    pool : concurrent.futures.Executor, optional
    workers : int
        Threads of ``pool`` to share the bands among (layers with fewer than two bands per worker run alone;
        "taps" only).
    method : {"taps", "einsum"}
        ``"taps"``: K*K banded multiply-adds over phase planes (``tiled`` is the row-tiled kernel).
        ``"einsum"``: one ``np.einsum`` over the window view of a single padded plane (``tiled`` is the
        (K, K, C) kernel), which reads each input once per output and is faster from 64 channels on.
        :func:`depthwise_method` picks one per layer.

    Returns
    -------
    y, mult_adds
        As :func:`depthwise_conv2d`.
    """
    if method not in DEPTHWISE_METHODS or len(planes) != (1 if method == "einsum" else stride * stride):
        raise SpecError(f"depthwise method {method!r} cannot take {len(planes)} plane(s) at stride {stride}")
    if method == "einsum":
        return _depthwise_einsum(planes[0, 0], tiled, bias, stride, kernel_size, out_size, out, lo, hi)
    band_elements = BAND_ELEMENTS if band_elements is None else band_elements
    any_plane = planes[0, 0]
    n, c = any_plane.shape[0], any_plane.shape[3]
    s, k = stride, kernel_size
    row = out_size * c
    y = np.empty((n, out_size, out_size, c), dtype=np.float32) if out is None else out
    y3 = y.reshape(n, out_size, row)
    flat = {key: p.reshape(n, p.shape[1], p.shape[2] * c) for key, p in planes.items()}
    taps = [(flat[dy % s, dx % s], dy // s, (dx // s) * c) for dy in range(k) for dx in range(k)]
    b = None if bias is None else np.tile(bias, out_size)
    lo_row = np.tile(lo, out_size) if np.ndim(lo) == 1 else lo  # per-channel bounds laid out as a row
    hi_row = np.tile(hi, out_size) if np.ndim(hi) == 1 else hi
    rows = max(1, min(out_size, band_elements // max(1, n * row)))
    bands = [(r0, min(out_size, r0 + rows)) for r0 in range(0, out_size, rows)]

    def work(chunk: list[tuple[int, int]]) -> None:
        scratch = np.empty((n, rows, row), dtype=np.float32)
        for r0, r1 in chunk:  # bands of output rows, for cache locality
            acc, tmp = y3[:, r0:r1], scratch[:, : r1 - r0]
            for t, (src, oy, ox) in enumerate(taps):
                view = src[:, oy + r0 : oy + r1, ox : ox + row]
                if t == 0:
                    np.multiply(view, tiled[0], out=acc)
                else:
                    np.multiply(view, tiled[t], out=tmp)
                    acc += tmp
            if b is not None:
                acc += b
            clamp(acc, lo_row, hi_row)

    if pool is not None and workers > 1 and len(bands) >= 2 * workers:
        size = -(-len(bands) // workers)
        for future in [pool.submit(work, bands[i : i + size]) for i in range(0, len(bands), size)]:
            future.result()
    else:
        work(bands)
    return y, k * k * y.size


def _tile_bound(bound: Bound, times: int) -> Bound:
    """A per-channel (C,) bound repeated along a row of ``times`` pixels; scalars and None pass through."""
    return np.tile(bound, times) if np.ndim(bound) == 1 else bound


def depthwise_weights(kernel: np.ndarray, method: str, out_size: int) -> np.ndarray:
    """The (K, K, C) kernel laid out for ``method`` of :func:`depthwise_planes`: row-tiled (K*K,
    out_size*C) for "taps", as is for "einsum"."""
    return tile_depthwise(kernel, out_size) if method == "taps" else kernel


def plane_layout(method: str, stride: int, top: int, extent: int) -> PlaneLayout:
    """How ``method`` wants a depthwise input split: stride x stride phase planes, or one plane for "einsum"."""
    return PlaneLayout(1 if method == "einsum" else stride, top, extent)


@dataclass(frozen=True, slots=True)
class FlatPlan:
    """A depthwise layer that reads its input unpadded: the previous layer's (N·H·W, C) output as it is, in a
    buffer with ``margin`` zeros of slack at each end (:meth:`allocate`).

    The taps of a padded window that fall outside the map read a neighbouring row, image or the slack
    instead, and are multiplied by a zero weight: the products are still performed (the cost engine counts
    the padding taps too) and contribute exactly nothing, as a zero-padded input would. Each class of output
    rows (the first rows, whose top taps fall in the padding; the middle; the last) has its own weights,
    zero where a tap leaves the map, and its own bias row, which takes back what a carried bias
    (:func:`clamp_bounds`) would have added at the taps that read no input. So the layer before can write
    its matrix product straight into the buffer: no padded copy of the map is ever made.

    Weights come in one of two layouts (``tiled``): repeated along a whole output row, (K, K, out_size*C),
    for one einsum whose inner loop runs over out_size*C values (stride 1, few channels); or per column
    group, the border columns with their own (K, K, cols, C) weights and the interior with one (K, K, C)
    kernel, for einsums whose inner loop runs over C (many channels: the tiled weights would be as large as
    the input).
    """

    in_size: int
    out_size: int
    kernel_size: int
    stride: int
    top: int  # zero rows (and columns) before the map
    margin: int  # zeros before and after the input in the buffer (elements)
    tiled: bool
    # (first output row, stop row, column groups, bias row (out_size*C,) or None) per class of rows; a column
    # group is (first column, stop column, weights (K, K, out_size*C) if tiled, else (K, K, cols, C) or (K, K, C))
    classes: tuple[tuple[int, int, tuple[tuple[int, int, np.ndarray], ...], np.ndarray | None], ...]

    def allocate(self, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        """The zeroed flat buffer and its (N, H, W, C) interior view, which the layer before writes into."""
        size = n * self.in_size * self.in_size * c
        buf = np.zeros(2 * self.margin + size, np.float32)
        return buf, buf[self.margin : self.margin + size].reshape(n, self.in_size, self.in_size, c)


def flat_plan(
    kernel: np.ndarray,
    in_size: int,
    out_size: int,
    top: int,
    bias: np.ndarray | None = None,
    carry: np.ndarray | None = None,
    *,
    stride: int = 1,
    tiled: bool = True,
) -> FlatPlan:
    """Prepare a depthwise layer for :func:`depthwise_flat`.

    Parameters
    ----------
    kernel : ndarray, shape (K, K, C)
    in_size, out_size : int
        Map height and width before and after.
    top : int
        Zero rows (and columns) before the map (:func:`pads`).
    bias : ndarray, shape (C,), optional
        The layer's bias, including what it absorbs of a carried input bias.
    carry : ndarray, shape (C,), optional
        The carried bias of the input (stored = true - carry); a padding tap would have read ``-carry``.
    stride : int
    tiled : bool
        Row-tiled weights (stride 1 only) or column groups; see :class:`FlatPlan`.
    """
    k, _, c = kernel.shape
    s = stride
    if not 0 <= top < k or out_size < 1 or (out_size - 1) * s - top > in_size - 1 or (tiled and s != 1):
        raise SpecError(
            f"{k}x{k} depthwise at stride {s}: padding {top} on {in_size} cannot give {out_size} outputs"
            + (" (row-tiled weights need stride 1)" if tiled and s != 1 else "")
        )
    taps, cols = np.arange(k), np.arange(out_size)
    x_ok = (cols[None, :] * s + taps[:, None] - top >= 0) & (cols[None, :] * s + taps[:, None] - top < in_size)
    inner = np.flatnonzero(x_ok.all(axis=0))  # columns whose taps all read the map: a contiguous run
    x0, x1 = (int(inner[0]), int(inner[-1]) + 1) if inner.size and not tiled else (out_size, out_size)
    kern = kernel.astype(np.float64)
    row_kinds: dict[tuple[bool, ...], list[int]] = {}
    for r in range(out_size):
        row_kinds.setdefault(tuple(bool(0 <= r * s + dy - top < in_size) for dy in taps), []).append(r)
    classes = []
    for dy_ok, rows in row_kinds.items():
        mask = np.array(dy_ok)[:, None, None, None] & x_ok[None, :, :, None]  # (dy, dx, x, 1)
        w = np.where(mask, kern[:, :, None, :], 0.0).astype(np.float32)  # (K, K, out, C)
        row_bias = None
        if bias is not None or carry is not None:
            b = np.zeros(c) if bias is None else bias.astype(np.float64)
            lost = 0.0 if carry is None else carry.astype(np.float64) * (kern[:, :, None, :] - w).sum(axis=(0, 1))
            row_bias = np.broadcast_to(b - lost, (out_size, c)).astype(np.float32).reshape(-1)  # (out*C,)
        if tiled:
            groups = [(0, out_size, w.reshape(k, k, out_size * c))]
        else:  # border columns with their own weights, the interior with one kernel
            groups = [(a, z, np.ascontiguousarray(w[:, :, a:z])) for a, z in ((0, x0), (x1, out_size)) if z > a]
            if x1 > x0:
                groups.append((x0, x1, np.ascontiguousarray(w[:, :, x0])))
        classes.append((rows[0], rows[-1] + 1, tuple(groups), row_bias))
    classes.sort(key=lambda cl: cl[0])
    margin = (k * in_size + k) * c
    return FlatPlan(in_size, out_size, k, s, top, margin, tiled, tuple(classes))


def depthwise_flat(
    buf: np.ndarray,
    plan: FlatPlan,
    n: int,
    out: np.ndarray | None = None,
    *,
    lo: Bound = None,
    hi: Bound = None,
    band_elements: int = ROW_BAND_ELEMENTS,
) -> tuple[np.ndarray, int]:
    """Depthwise convolution on an unpadded input (:class:`FlatPlan`), one ``np.einsum`` per band of
    output rows and column group: the taps are a strided view (dy, dx, rows, cols, C) of the flat buffer
    (for row-tiled weights, (dy, dx, rows, out_size*C): the (column, channel) pairs flattened into one
    contiguous axis), contracted with the class's weights; then the bias row and the clamp. No loop over
    channels or pixels (the loops run over images, row classes, bands and column groups).

    Parameters
    ----------
    buf : ndarray, shape (2*margin + N*H*W*C,)
        From :meth:`FlatPlan.allocate`, the input written into its interior.
    plan : FlatPlan
    n : int
        Images in the batch.
    out : ndarray, shape (N, out_size, out_size, C), optional
    lo, hi : float or ndarray of shape (C,), optional
        Clamp bounds applied after the bias (:func:`clamp_bounds`).
    band_elements : int

    Returns
    -------
    y, mult_adds
        As :func:`depthwise_conv2d`: K·K·N·D_F·D_F·C, the padding taps included.
    """
    k, h, o, s, top = plan.kernel_size, plan.in_size, plan.out_size, plan.stride, plan.top
    c = plan.classes[0][2][0][2].shape[-1] // (o if plan.tiled else 1)
    row = o * c
    if buf.size != 2 * plan.margin + n * h * h * c:
        raise SpecError(f"flat depthwise buffer of {buf.size} values does not hold {n} ({h}, {h}, {c}) maps")
    y = np.empty((n, o, o, c), dtype=np.float32) if out is None else out
    y3 = y.reshape(n, o, row)
    lo_row, hi_row = _tile_bound(lo, o), _tile_bound(hi, o)
    rows = max(1, min(o, band_elements // row))
    z = buf.itemsize
    tap_steps = (h * c * z, c * z)  # dy, dx
    window_steps = (s * h * c * z, s * c * z, z)  # output row, output column, channel
    for i in range(n):
        image = plan.margin + i * h * h * c
        for first, stop, groups, bias in plan.classes:
            for r0 in range(first, stop, rows):
                r1 = min(stop, r0 + rows)
                for x0, x1, w in groups:
                    start = image + ((r0 * s - top) * h + x0 * s - top) * c  # tap (0, 0) of output (r0, x0)
                    if plan.tiled:
                        view = as_strided(buf[start:], shape=(k, k, r1 - r0, row),
                                          strides=(*tap_steps, h * c * z, z), writeable=False)  # fmt: skip
                        np.einsum("ijrx,ijx->rx", view, w, out=y3[i, r0:r1])
                    else:
                        view = as_strided(buf[start:], shape=(k, k, r1 - r0, x1 - x0, c),
                                          strides=(*tap_steps, *window_steps), writeable=False)  # fmt: skip
                        spec = "ijrxc,ijc->rxc" if w.ndim == 3 else "ijrxc,ijxc->rxc"
                        np.einsum(spec, view, w, out=y[i, r0:r1, x0:x1])
                acc = y3[i, r0:r1]
                if bias is not None:
                    acc += bias
                clamp(acc, lo_row, hi_row)
    return y, k * k * y.size


def pointwise_conv2d(
    x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, out: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """1x1 convolution as one (N·H·W, M) @ (M, N_out) matrix product.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, M)
    kernel : ndarray, shape (M, N_out)
        Keras' (1, 1, M, N_out) without the window axes (BN folded in, if any).
    bias : ndarray, shape (N_out,), or None
    out : ndarray, shape (N, H, W, N_out), optional

    Returns
    -------
    y : ndarray, shape (N, H, W, N_out)
    mult_adds : int
        N·H·W · M · N_out.
    """
    n, h, w, c = x.shape
    cout = kernel.shape[1]
    a = x.reshape(n * h * w, c)
    y = np.matmul(a, kernel, out=None if out is None else out.reshape(n * h * w, cout))
    if bias is not None:
        y += bias
    return y.reshape(n, h, w, cout), a.shape[0] * c * cout


def fold_batch_norm(
    kernel: np.ndarray,
    bias: np.ndarray | None,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    variance: np.ndarray,
    epsilon: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Fold inference batch norm into the preceding convolution: BN(conv(x) + b) = conv'(x) + b'.

    ``kernel``'s last axis is the output channel (Keras layouts (K, K, M, N) and depthwise (K, K, C) both
    qualify). Computed in float64, returned as float32.

    Returns
    -------
    kernel' : ndarray, same shape as ``kernel``
        ``kernel * gamma / sqrt(variance + epsilon)``
    bias' : ndarray, shape (N,)
        ``beta + (b - mean) * gamma / sqrt(variance + epsilon)``
    """
    scale = gamma.astype(np.float64) / np.sqrt(variance.astype(np.float64) + epsilon)
    b = np.zeros_like(scale) if bias is None else bias.astype(np.float64)
    folded_bias = beta.astype(np.float64) + (b - mean.astype(np.float64)) * scale
    return (kernel.astype(np.float64) * scale).astype(np.float32), folded_bias.astype(np.float32)


def activate(y: np.ndarray, activation: str | None) -> np.ndarray:
    """An activation of :data:`ACTIVATIONS`, in place: ReLU (the paper), ReLU6 (TF-slim and Keras checkpoints),
    h-swish ``y·relu6(y + 3)/6`` and h-sigmoid ``relu6(y + 3)/6`` (MobileNetV3, PyTorch's definitions), SiLU
    ``y·sigmoid(y)`` (EfficientNet), sigmoid ``1/(1 + exp(-y))``, or nothing.

    Parameters
    ----------
    y : ndarray, float32, any shape
        Overwritten with the result.
    """
    if activation == "relu":
        np.maximum(y, 0, out=y)
    elif activation == "relu6":
        np.clip(y, 0, 6, out=y)
    elif activation in ("hardswish", "hardsigmoid"):
        gate = np.clip(y + 3, 0, 6)
        gate /= 6
        if activation == "hardswish":
            y *= gate
        else:
            y[...] = gate
    elif activation in ("silu", "sigmoid"):
        with np.errstate(over="ignore"):  # exp(-y) overflows to inf for y < -88: 1 / inf = 0, as it should
            gate = 1 / (1 + np.exp(-y))
        if activation == "silu":
            y *= gate
        else:
            y[...] = gate
    elif activation is not None:
        raise SpecError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return y


def add(x: np.ndarray, skip: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A residual block's sum: ``x + skip``, both (N, H, W, C) (additions only: no multiply-accumulate)."""
    return np.add(x, skip, out=out)


def scale_channels(x: np.ndarray, factors: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Squeeze-and-excite's product: ``x`` (N, H, W, C) times ``factors`` (N, 1, 1, C), one factor per image
    and channel, broadcast over positions (multiplications only: no multiply-accumulate)."""
    return np.multiply(x, factors, out=out)


def adaptive_windows(n: int, o: int) -> list[tuple[int, int]]:
    """PyTorch's AdaptiveAvgPool2d windows along one axis: output cell i averages inputs floor(i·n/o) up to
    ceil((i+1)·n/o), overlapping or repeating where o does not divide n.

    >>> adaptive_windows(3, 2), adaptive_windows(1, 3)
    ([(0, 2), (1, 3)], [(0, 1), (0, 1), (0, 1)])
    """
    return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]


def global_avg_pool(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> (N, 1, 1, C), the mean over the map (additions only: no multiply-accumulates)."""
    return x.mean(axis=(1, 2), keepdims=True, dtype=np.float32)


def linear(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Fully connected layer on the flattened input.

    Parameters
    ----------
    x : ndarray, shape (N, ...) with M elements per image, flattened in NHWC order
    kernel : ndarray, shape (M, N_out)
    bias : ndarray, shape (N_out,), or None

    Returns
    -------
    y : ndarray, shape (N, N_out)
    mult_adds : int
        N · M · N_out.
    """
    a = x.reshape(x.shape[0], -1)
    y = a @ kernel
    if bias is not None:
        y += bias
    return y, a.shape[0] * a.shape[1] * kernel.shape[1]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the maximum for stability. (N, K) -> (N, K)."""
    z = logits - logits.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z

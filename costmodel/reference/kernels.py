"""NumPy kernels for the reference executor: NHWC float32, no Python loop over channels or pixels.

Every kernel that multiplies returns ``(output, mult_adds)``, where ``mult_adds`` is counted from the operand
shapes of the products it actually performs (one matrix product, or ``K*K`` broadcast multiply-adds), for the
whole batch. Zero padding is materialised and multiplied like any other input, which is what the cost engine
counts (D_K·D_K·M·D_F·D_F covers the border taps too).

Padding conventions (:data:`PADDINGS`), applied to a layer whose spec says ``padding="same"``:

- ``"same"``: TF ``SAME`` (:func:`costmodel.layers.same_padding`): the odd extra row/column goes after
  (bottom/right). This is what Keras/TF-trained weights expect.
- ``"symmetric"``: ``kernel // 2`` on every side, PyTorch's ``padding=1`` for a 3x3 kernel. For stride 2 on an
  even input it starts the windows one row/column earlier than ``"same"``, so the numbers differ.

A layer whose spec gives an integer padding is padded by that integer on every side, whatever the convention.
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..layers import same_padding

__all__ = [
    "PADDINGS",
    "ACTIVATIONS",
    "pads",
    "pad_into",
    "conv2d",
    "depthwise_conv2d",
    "pointwise_conv2d",
    "fold_batch_norm",
    "activate",
    "global_avg_pool",
    "linear",
    "softmax",
]

PADDINGS = ("same", "symmetric")
ACTIVATIONS = (None, "relu", "relu6")


def pads(
    spec_padding: int | str, in_size: int, out_size: int, kernel: int, stride: int, convention: str
) -> tuple[int, int]:
    """(before, after) zero padding of one axis, so that ``out_size`` windows fit exactly.

    ``after`` is what the last window needs (it may be less than ``before``: the rows a strided window never
    reaches are not padded). Raises :class:`SpecError` if the padded input cannot give ``out_size`` windows.

    Examples
    --------
    >>> pads("same", 224, 112, 3, 2, "same"), pads("same", 224, 112, 3, 2, "symmetric")
    ((0, 1), (1, 0))
    >>> pads("same", 7, 7, 3, 1, "same"), pads("same", 7, 4, 3, 2, "same")
    ((1, 1), (1, 1))
    """
    if convention not in PADDINGS:
        raise SpecError(f"padding convention must be one of {PADDINGS}, got {convention!r}")
    if isinstance(spec_padding, int):
        before = spec_padding
    elif convention == "same":
        before = same_padding(in_size, kernel, stride)[0]
    else:
        before = kernel // 2
    after = (out_size - 1) * stride + kernel - in_size - before
    if after < 0:  # the last window ends inside the input: rows past it are never read
        after = 0
    if (in_size + before + after - kernel) // stride + 1 != out_size:
        raise SpecError(
            f"padding {before}+{after} on {in_size} cannot give {out_size} windows "
            f"of {kernel} at stride {stride}"
        )
    return before, after


def pad_into(x: np.ndarray, buf: np.ndarray, top: int, left: int) -> np.ndarray:
    """Copy ``x`` (N, H, W, C) into the interior of ``buf`` (N, H + pads, W + pads, C), whose border is zero.

    ``buf`` is reused between calls; only its interior is written, so the zero border stays.
    """
    n, h, w, c = x.shape
    buf[:, top : top + h, left : left + w, :] = x
    return buf


def _windows(xp: np.ndarray, dy: int, dx: int, out_size: int, stride: int) -> np.ndarray:
    """The (N, out, out, C) view of padded ``xp`` that tap (dy, dx) of every window reads."""
    stop = (out_size - 1) * stride + 1
    return xp[:, dy : dy + stop : stride, dx : dx + stop : stride, :]


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
    if cols is None:
        cols = np.empty((n, out_size, out_size, k, k, c), dtype=xp.dtype)
    for dy in range(k):  # K*K window taps, each a vectorised copy over N, H, W, C
        for dx in range(k):
            cols[:, :, :, dy, dx, :] = _windows(xp, dy, dx, out_size, stride)
    a = cols.reshape(n * out_size * out_size, k * k * c)
    b = kernel.reshape(k * k * c, cout)
    y = np.matmul(a, b, out=None if out is None else out.reshape(a.shape[0], cout))
    if bias is not None:
        y += bias
    return y.reshape(n, out_size, out_size, cout), a.shape[0] * a.shape[1] * b.shape[1]


def depthwise_conv2d(
    xp: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    stride: int,
    out_size: int,
    out: np.ndarray | None = None,
    tmp: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Depthwise convolution as a sum of K*K shifted multiply-adds over strided views, all channels at once.

    Parameters
    ----------
    xp : ndarray, shape (N, Hp, Wp, C)
        Input, already zero padded.
    kernel : ndarray, shape (K, K, C)
        One K x K filter per channel (Keras' (K, K, C, 1) without the last axis; BN folded in, if any).
    bias : ndarray, shape (C,), or None
    stride, out_size : int
    out, tmp : ndarray, shape (N, out_size, out_size, C), optional
        Output and scratch buffers to reuse.

    Returns
    -------
    y : ndarray, shape (N, out_size, out_size, C)
    mult_adds : int
        K·K products per output element: K·K·N·D_F·D_F·C.
    """
    n, c = xp.shape[0], xp.shape[3]
    k = kernel.shape[0]
    shape = (n, out_size, out_size, c)
    y = np.empty(shape, dtype=xp.dtype) if out is None else out
    t = np.empty(shape, dtype=xp.dtype) if tmp is None else tmp
    mult_adds = 0
    for dy in range(k):  # K*K taps; each is one multiply and one add over the whole (N, H, W, C) block
        for dx in range(k):
            view = _windows(xp, dy, dx, out_size, stride)
            if dy == 0 and dx == 0:
                np.multiply(view, kernel[0, 0], out=y)
            else:
                np.multiply(view, kernel[dy, dx], out=t)
                y += t
            mult_adds += view.size
    if bias is not None:
        y += bias
    return y, mult_adds


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
    """ReLU (the paper), ReLU6 (TF-slim and Keras checkpoints) or nothing, in place."""
    if activation == "relu":
        np.maximum(y, 0, out=y)
    elif activation == "relu6":
        np.clip(y, 0, 6, out=y)
    elif activation is not None:
        raise SpecError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return y


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

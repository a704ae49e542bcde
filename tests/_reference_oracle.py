"""Slow, obviously-correct loop versions of the reference kernels, for tests only.

They keep their own padding code (not costmodel.spec.layers.same_padding nor the kernels' ``pads``), loop over
output pixels in Python, and apply batch norm unfolded, as the formula reads.
"""

from __future__ import annotations

import math

import numpy as np


def oracle_pad(x: np.ndarray, kernel: int, stride: int, convention: str, padding: object = "tf_same") -> np.ndarray:
    """Zero-pad (N, H, W, C) the way TF SAME ("same"), PyTorch padding=kernel//2 ("symmetric") or Keras' MobileNet
    ("keras": ZeroPadding2D(((0, 1), (0, 1))) then a valid window at stride 2, SAME at stride 1) does, written
    out from scratch; a layer whose architecture fixes an integer ``padding`` (torchvision's ``padding=p``) gets
    that on every side."""
    n = x.shape[1]
    if isinstance(padding, int) and not isinstance(padding, bool):
        top = bottom = padding
    elif convention == "keras" and stride > 1:
        top, bottom = 0, 1
    elif convention in ("same", "keras"):
        out = math.ceil(n / stride)
        total = max((out - 1) * stride + kernel - n, 0)
        top = total // 2  # TF puts the odd extra row at the bottom
        bottom = total - top
    elif convention == "symmetric":
        top = bottom = kernel // 2
    else:
        raise ValueError(convention)
    return np.pad(x, ((0, 0), (top, bottom), (top, bottom), (0, 0)))


def oracle_conv(x, kernel, stride, convention, groups=1, padding="tf_same"):
    """Convolution by loops over output pixels. kernel (K, K, M/groups, N); depthwise: groups == M == N."""
    k = kernel.shape[0]
    xp = oracle_pad(x.astype(np.float64), k, stride, convention, padding)
    n_img, hp, _, m = xp.shape
    out_size = (hp - k) // stride + 1
    n_out = kernel.shape[3]
    y = np.zeros((n_img, out_size, out_size, n_out))
    per_group_in, per_group_out = m // groups, n_out // groups
    for i in range(out_size):
        for j in range(out_size):
            patch = xp[:, i * stride : i * stride + k, j * stride : j * stride + k, :]  # (N, K, K, M)
            if groups == 1:
                y[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
            else:
                assert groups == m == n_out and per_group_in == per_group_out == 1
                y[:, i, j, :] = (patch * kernel[:, :, 0, :]).sum(axis=(1, 2))
    return y


def oracle_bn(y, gamma, beta, mean, var, eps):
    return (y - mean) / np.sqrt(var + eps) * gamma + beta


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0  # math.exp overflows past ~709


_SCALAR_ACTIVATIONS = {  # element by element, in Python floats, as the papers write them
    "hardswish": lambda v: v * min(max(v + 3.0, 0.0), 6.0) / 6.0,
    "hardsigmoid": lambda v: min(max(v + 3.0, 0.0), 6.0) / 6.0,
    "silu": lambda v: v * _sigmoid(v),
    "sigmoid": _sigmoid,
}


def oracle_act(y, activation):
    if activation == "relu":
        return np.maximum(y, 0)
    if activation == "relu6":
        return np.minimum(np.maximum(y, 0), 6)
    if activation in _SCALAR_ACTIVATIONS:
        f = _SCALAR_ACTIVATIONS[activation]
        return np.array([f(float(v)) for v in np.asarray(y).ravel()]).reshape(np.shape(y))
    return y


def oracle_add(x, skip):
    """A residual sum, pixel by pixel."""
    out = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for i in range(x.shape[1]):
            for j in range(x.shape[2]):
                out[n, i, j] = [float(a) + float(b) for a, b in zip(x[n, i, j], skip[n, i, j], strict=True)]
    return out


def oracle_scale(x, factors):
    """Squeeze-and-excite's product: every pixel of image n times factors[n] (shape (N, 1, 1, C) or (N, C))."""
    f = np.asarray(factors, dtype=np.float64).reshape(x.shape[0], -1)
    out = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for i in range(x.shape[1]):
            for j in range(x.shape[2]):
                out[n, i, j] = [float(a) * float(b) for a, b in zip(x[n, i, j], f[n], strict=True)]
    return out


#: The oracle's own description of each flavour: padding convention, batch-norm epsilon, whether gamma exists
#: (written out from the frameworks' sources, not read from costmodel's flavours).
FLAVOURS = {
    "paper": ("same", 1e-3, True),
    "keras": ("keras", 1e-3, True),
    "tfslim": ("same", 1e-3, False),
    "timm": ("symmetric", 1e-5, True),
}


def oracle_pool(x, kernel, stride, padding, mode, ceil_mode, out_size):
    """Pooling by loops over output pixels. PyTorch's MaxPool2d / AvgPool2d (an int padding, or a (before, after)
    pair as Keras' ZeroPadding2D then a valid pool), as its C++ reads: a window starts at i·s - before and ends
    at most ``after`` past the input; a max skips the padding, an average divides by the window clipped to input
    + padding. TF's SAME ("tf_same"): the window clipped to the input, an average over the input's elements."""
    n_img, h, _, c = x.shape
    if padding == "tf_same":
        total = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
        before, after = total // 2, total - total // 2
    elif isinstance(padding, int):
        before = after = padding
    else:
        before, after = padding
    y = np.zeros((n_img, out_size, out_size, c))
    for i in range(out_size):
        for j in range(out_size):
            h0, w0 = i * stride - before, j * stride - before
            h1, w1 = min(h0 + kernel, h + after), min(w0 + kernel, h + after)
            a, b, cc, d = max(h0, 0), min(h1, h), max(w0, 0), min(w1, h)
            pool_size = (b - a) * (d - cc) if padding == "tf_same" else (h1 - h0) * (w1 - w0)
            patch = x[:, a:b, cc:d, :]
            y[:, i, j, :] = patch.max(axis=(1, 2)) if mode == "max" else patch.sum(axis=(1, 2)) / pool_size
    return y


def oracle_adaptive_avg(x, out):
    """PyTorch's AdaptiveAvgPool2d by loops: cell (i, j) averages rows [floor(i·n/o), ceil((i+1)·n/o)) and the
    same columns."""
    n = x.shape[1]
    y = np.zeros((x.shape[0], out, out, x.shape[3]))
    for i in range(out):
        for j in range(out):
            r0, r1 = math.floor(i * n / out), math.ceil((i + 1) * n / out)
            c0, c1 = math.floor(j * n / out), math.ceil((j + 1) * n / out)
            y[:, i, j, :] = x[:, r0:r1, c0:c1, :].mean(axis=(1, 2))
    return y


def oracle_forward(network, weights, images, convention="same", eps=1e-3, outputs=None, gamma=True):
    """The whole network, layer by layer, with loop convolutions and unfolded batch norm (float64).

    ``gamma=False``: batch norm without a scale (TF-slim's checkpoints). A convolution after the global
    pooling (Keras' and TF-slim's 1x1 classifier) sees a 1x1 map. Returns the logits; fills ``outputs`` (a
    dict), if given, with every layer's output."""
    state = {"logits": None}
    x = _oracle_nodes(network.nodes, weights, images.astype(np.float64), convention, eps, outputs, state, gamma)
    return state["logits"] if state["logits"] is not None else x


def _oracle_nodes(nodes, weights, x, convention, eps, outputs, state, gamma=True):
    from costmodel.spec.layers import (
        AdaptiveAvgPool,
        Concat,
        Conv2d,
        GlobalAvgPool,
        Linear,
        Pool2d,
        Residual,
        Scale,
        Softmax,
    )

    for node in nodes:
        layer = node.layer
        if isinstance(layer, Concat):  # every branch on the block's input, concatenated on channels
            parts = [_oracle_nodes(b, weights, x, convention, eps, outputs, state, gamma) for b in node.branches]
            x = np.concatenate(parts, axis=-1)
        elif isinstance(layer, Pool2d):
            x = oracle_pool(x, layer.kernel, layer.stride, layer.padding, layer.mode, layer.ceil_mode, node.out_size)
        elif isinstance(layer, AdaptiveAvgPool):
            x = oracle_adaptive_avg(x, layer.output_size)
        elif isinstance(layer, (Residual, Scale)):  # the body on the block's input, then the sum or product
            h = _oracle_nodes(node.branches[0], weights, x, convention, eps, outputs, state, gamma)
            x = oracle_add(h, x) if isinstance(layer, Residual) else oracle_scale(x, h)
            if outputs is not None:
                outputs[node.merge.name] = x
        elif isinstance(layer, Conv2d):
            pad = layer.padding
            # Keras pads (0, 1) only in its blocks (_depthwise_conv_block); its stem (_conv_block) is SAME.
            conv = "same" if convention == "keras" and layer.name == "conv1" else convention
            if layer.depthwise:
                kern = weights[f"{layer.name}/depthwise_kernel"].transpose(0, 1, 3, 2)  # (K, K, 1, C)
                x = oracle_conv(x, kern.astype(np.float64), layer.stride, conv, groups=layer.in_ch, padding=pad)
            else:
                kern = weights[f"{layer.name}/kernel"].astype(np.float64)
                x = oracle_conv(x, kern, layer.stride, conv, padding=pad)
            if layer.bias:
                x = x + weights[f"{layer.name}/bias"]
            if layer.batch_norm:
                g = weights[f"{layer.name}_bn/gamma"] if gamma else 1.0
                bn = [weights[f"{layer.name}_bn/{v}"] for v in ("beta", "moving_mean", "moving_variance")]
                x = oracle_bn(x, g, *bn, eps)
            x = oracle_act(x, layer.activation)
        elif isinstance(layer, GlobalAvgPool):
            x = x.mean(axis=(1, 2), keepdims=True)
        elif isinstance(layer, Linear):
            flat = x.reshape(x.shape[0], -1)
            x = flat @ weights[f"{layer.name}/kernel"].astype(np.float64)
            if layer.bias:
                x = x + weights[f"{layer.name}/bias"]
            x = oracle_act(x, layer.activation)
        elif isinstance(layer, Softmax):
            x = x.reshape(x.shape[0], -1)
            state["logits"] = x
            e = np.exp(x - x.max(axis=1, keepdims=True))
            x = e / e.sum(axis=1, keepdims=True)
        if outputs is not None:
            outputs[node.name] = x
    return x

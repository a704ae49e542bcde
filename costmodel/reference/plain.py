"""The plain reference: one kernel per layer type that is obviously right, and a forward pass built from them.

Each kernel is a few lines of NumPy on NHWC float32 arrays: pad with ``np.pad`` (the padding the layer's spec
gives, :func:`~costmodel.reference.kernels.pads`), take every window with
``sliding_window_view``, and contract the windows with the weights in one ``tensordot`` (a matrix product) or
``einsum``. Batch norm is applied as written, ``gamma * (z - mean) / sqrt(variance + eps) + beta`` with the
layer's own epsilon, not folded. Nothing is tuned, nothing is carried from one layer to the next, no buffer is reused.

This is what a new layer type starts from: its plain kernel here (one rule in :func:`plain_kernel`), checked
against the loop oracle of the tests. The tuned executor (:mod:`costmodel.reference.executor`) chooses faster
paths at preparation for MobileNetV1's types (folded batch norm, one matrix product per pointwise layer, the
"flat"/"taps" depthwise kernels, biases carried across layers) and must give the same logits; docs/reference.md says
what the tuning buys (``python benchmarks/bench_plain.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import singledispatch

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import InputError, SpecError
from ..spec.layers import (
    MULTI_INPUT,
    AdaptiveAvgPool,
    Add,
    BatchNormAct,
    Cat,
    ChannelShuffle,
    ChannelSlice,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Linear,
    Mul,
    Pool2d,
    Residual,
    Scale,
    Softmax,
    Sum,
    Zero,
    explicit_padding,
)
from ..spec.network import Network, Node
from .kernels import adaptive_windows, pads
from .weights import validate_weights

__all__ = ["ACTIVATION_FUNCTIONS", "plain_kernel", "plain_forward", "check_images"]

#: The activation functions, by the spec's names (costmodel.spec.layers.ACTIVATIONS).
ACTIVATION_FUNCTIONS: dict[str | None, Callable[[np.ndarray], np.ndarray]] = {
    None: lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "relu6": lambda z: np.clip(z, 0, 6),
    "hardswish": lambda z: z * np.clip(z + 3, 0, 6) / 6,  # MobileNetV3 (PyTorch's nn.Hardswish)
    "hardsigmoid": lambda z: np.clip(z + 3, 0, 6) / 6,  # PyTorch's nn.Hardsigmoid
    "silu": lambda z: z / (1 + np.exp(-z)),  # EfficientNet's swish
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}

Weights = Mapping[str, np.ndarray]


def _activate(z: np.ndarray, activation: str | None, name: str) -> np.ndarray:
    if activation not in ACTIVATION_FUNCTIONS:
        raise SpecError(f"{name}: the plain reference has no activation {activation!r}")
    return ACTIVATION_FUNCTIONS[activation](z)


@singledispatch
def plain_kernel(layer: object, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    """Run one layer on ``x`` (N, H, W, C) float32; returns its output (N, H', W', C') or (N, classes)."""
    raise SpecError(f"{node.name}: the plain reference has no kernel for {type(layer).__name__}")


@plain_kernel.register
def _(layer: Conv2d, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    k, s, g = layer.kernel, layer.stride, layer.groups
    before, after = pads(layer.padding, node.in_size, node.out_size, k, s)  # the spec's padding
    xp = np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)))
    windows = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::s, ::s][:, : node.out_size, : node.out_size]
    # windows: (N, H', W', M, K, K). Group g sees input channels [g·M/G, (g+1)·M/G) and makes N/G outputs.
    n, h, w = windows.shape[:3]
    m_g, n_g = layer.in_ch // g, layer.out_ch // g
    if layer.depthwise:
        kernel = weights[f"{layer.name}/depthwise_kernel"][:, :, :, 0]  # (K, K, C)
        z = np.einsum("nhwcij,ijc->nhwc", windows, kernel)
    elif g == 1:  # every window against every filter: one matrix product (BLAS) over (M, K, K)
        z = np.tensordot(windows, weights[f"{layer.name}/kernel"], axes=([3, 4, 5], [2, 0, 1]))
    else:
        kernel = weights[f"{layer.name}/kernel"].reshape(k, k, m_g, g, n_g)  # (K, K, M/G, N) by group
        grouped = windows.reshape(n, h, w, g, m_g, k, k)
        z = np.einsum("nhwgcij,ijcgd->nhwgd", grouped, kernel).reshape(n, h, w, layer.out_ch)
    if layer.bias:
        z = z + weights[f"{layer.name}/bias"]
    if layer.batch_norm:  # the layer's own epsilon; no gamma (TF-slim) scales by 1
        beta, mean, variance = (weights[f"{layer.name}_bn/{v}"] for v in ("beta", "moving_mean", "moving_variance"))
        gamma = weights[f"{layer.name}_bn/gamma"] if layer.bn_scale else 1.0
        z = gamma * (z - mean) / np.sqrt(variance + layer.bn_epsilon) + beta
    return _activate(z, layer.activation, layer.name).astype(np.float32)


@plain_kernel.register
def _(layer: GlobalAvgPool, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    return x.mean(axis=(1, 2), keepdims=True, dtype=np.float32)


@plain_kernel.register
def _(layer: Linear, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    z = x.reshape(x.shape[0], -1) @ weights[f"{layer.name}/kernel"]  # NHWC flattened, as the spec's in_features
    if layer.bias:
        z = z + weights[f"{layer.name}/bias"]
    return _activate(z, layer.activation, layer.name).astype(np.float32)


@plain_kernel.register
def _(layer: Softmax, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    z = x.reshape(x.shape[0], -1)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _run(nodes: tuple[Node, ...], weights: Weights, x: np.ndarray) -> np.ndarray:
    for node in nodes:
        x = plain_kernel(node.layer, node, weights, x)
    return x


@plain_kernel.register
def _(layer: Residual, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    return x + _run(node.branches[0], weights, x)  # the block's Add


@plain_kernel.register
def _(layer: Scale, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    return x * _run(node.branches[0], weights, x)  # the block's Mul: (N, 1, 1, C) broadcast


@plain_kernel.register(Add)
@plain_kernel.register(Mul)
def _(layer: object, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    # A merge has two inputs; its arithmetic is its block's rule above (x + body(x), x * body(x)).
    raise SpecError(f"{node.name}: {type(layer).__name__} runs only as the end of its block")


@plain_kernel.register
def _(layer: Concat, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    return np.concatenate([_run(branch, weights, x) for branch in node.branches], axis=-1)


@plain_kernel.register
def _(layer: Graph, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    """Every node on the tensors its sources name (a Sum or Cat gets the list of them); the last node's output."""
    outs: list[np.ndarray] = []
    for sub in node.branches[0]:
        ins = [x if j < 0 else outs[j] for j in sub.sources]
        outs.append(plain_kernel(sub.layer, sub, weights, ins if isinstance(sub.layer, MULTI_INPUT) else ins[0]))
    return outs[-1]


@plain_kernel.register
def _(layer: Sum, node: Node, weights: Weights, x: list[np.ndarray]) -> np.ndarray:  # type: ignore[override]
    total = x[0]
    for other in x[1:]:
        total = total + other
    return _activate(total, layer.activation, layer.name).astype(np.float32)


@plain_kernel.register
def _(layer: Cat, node: Node, weights: Weights, x: list[np.ndarray]) -> np.ndarray:  # type: ignore[override]
    return np.concatenate(x, axis=-1)


@plain_kernel.register
def _(layer: ChannelSlice, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x[..., layer.start : layer.stop])


@plain_kernel.register
def _(layer: ChannelShuffle, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape  # channel g * (C / groups) + j -> j * groups + g (NHWC: the last axis)
    return np.ascontiguousarray(x.reshape(n, h, w, layer.groups, c // layer.groups).swapaxes(3, 4).reshape(x.shape))


@plain_kernel.register
def _(layer: BatchNormAct, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    z = x
    if layer.batch_norm:
        beta, mean, variance = (weights[f"{layer.name}/{v}"] for v in ("beta", "moving_mean", "moving_variance"))
        gamma = weights[f"{layer.name}/gamma"] if layer.bn_scale else 1.0
        z = gamma * (z - mean) / np.sqrt(variance + layer.bn_epsilon) + beta
    return _activate(z, layer.activation, layer.name).astype(np.float32)


@plain_kernel.register
def _(layer: Zero, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    return np.zeros_like(x)


@plain_kernel.register
def _(layer: Pool2d, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    """Max or average pooling with the layer's padding. PyTorch's pools (an int padding) and explicit pairs
    count the padding in an average (``count_include_pad``) but not the rows a ceil-mode window reaches past
    it; TF's SAME pools average the input elements alone. A max never sees the padding."""
    k, s, out, n = layer.kernel, layer.stride, node.out_size, node.in_size
    before, pad_after = explicit_padding(layer.padding, n, k, s)
    after = max(0, (out - 1) * s + k - n - before)  # what the last window reaches: the padding, and past it
    fill = -np.inf if layer.mode == "max" else 0.0
    xp = np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)), constant_values=fill)
    windows = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::s, ::s][:, :out, :out]
    if layer.mode == "max":
        return windows.max(axis=(-2, -1)).astype(np.float32)
    if layer.padding == "tf_same":  # TF: only the input's elements count
        counted = np.pad(np.ones((n, n)), ((before, after), (before, after)))
    else:  # PyTorch: the input and its padding count, not what lies past the padding
        inside = n + before + min(pad_after, after)
        counted = np.pad(np.ones((inside, inside)), ((0, n + before + after - inside),) * 2)
    counts = sliding_window_view(counted, (k, k))[::s, ::s][:out, :out].sum(axis=(-2, -1))
    return (windows.sum(axis=(-2, -1)) / counts[None, :, :, None]).astype(np.float32)


@plain_kernel.register
def _(layer: AdaptiveAvgPool, node: Node, weights: Weights, x: np.ndarray) -> np.ndarray:
    """PyTorch's AdaptiveAvgPool2d (:func:`~costmodel.reference.kernels.adaptive_windows`)."""
    edges = adaptive_windows(node.in_size, layer.output_size)
    rows = np.stack([x[:, a:b].mean(axis=1) for a, b in edges], axis=1)  # (N, o, W, C)
    return np.stack([rows[:, :, a:b].mean(axis=2) for a, b in edges], axis=2).astype(np.float32)


def check_images(network: Network, images: object) -> np.ndarray:
    """Validate a batch of preprocessed images for ``network`` and return it as C-contiguous float32.

    ``images`` must be a floating-point ndarray of shape (N, R, R, C) with R = ``network.input_size`` and
    C = ``network.in_ch``, N >= 1, all values finite. Raises :class:`InputError` naming what is wrong.
    """
    if not isinstance(network, Network):
        raise InputError(f"check_images() needs a Network, got {type(network).__name__}")
    r, c = network.input_size, network.in_ch
    want = f"(N, {r}, {r}, {c})"
    if not isinstance(images, np.ndarray):
        raise InputError(f"images must be a NumPy array of shape {want}, got {type(images).__name__}")
    if images.ndim != 4:
        raise InputError(f"images must have rank 4, shape {want}; got rank {images.ndim}, shape {images.shape}")
    if images.shape[0] < 1:
        raise InputError(f"images must hold at least one image, got shape {images.shape}")
    if images.shape[1:3] != (r, r):
        raise InputError(f"images must be {r}x{r} for {network.name}, got {images.shape[1]}x{images.shape[2]}")
    if images.shape[3] != c:
        raise InputError(f"images must have {c} channels (NHWC), got {images.shape[3]} (shape {images.shape})")
    if not np.issubdtype(images.dtype, np.floating):
        raise InputError(f"images must be floating point, preprocessed (e.g. x / 127.5 - 1), got dtype {images.dtype}")
    x = np.ascontiguousarray(images, dtype=np.float32)
    if not np.isfinite(x).all():
        bad = int(x.size - np.count_nonzero(np.isfinite(x)))
        raise InputError(f"images contain {bad} NaN or infinite values")
    return x


def plain_forward(network: Network, weights: Weights, images: np.ndarray) -> np.ndarray:
    """Logits of ``network`` (the input of its softmax, or its last layer's output), run with the plain kernels.

    Parameters
    ----------
    network : Network
    weights : mapping
        ``{key: float32 array}`` as from :func:`~costmodel.reference.init_weights`; validated first.
    images : ndarray, shape (N, R, R, C)

    Returns
    -------
    ndarray, shape (N, num_classes)

    Examples
    --------
    >>> import numpy as np
    >>> from costmodel import mobilenet_v1
    >>> from costmodel.reference import forward, init_weights
    >>> net = mobilenet_v1(0.25, 64, num_classes=10)
    >>> w, x = init_weights(net), np.random.default_rng(0).standard_normal((2, 64, 64, 3)).astype(np.float32)
    >>> bool(np.allclose(plain_forward(net, w, x), forward(net, w, x), rtol=1e-4, atol=1e-5))
    True
    """
    validate_weights(network, weights)
    x = check_images(network, images)
    nodes = network.nodes
    if isinstance(nodes[-1].layer, Softmax):  # the logits are the softmax's input
        nodes = nodes[:-1]
    return _run(nodes, weights, x).reshape(x.shape[0], -1)

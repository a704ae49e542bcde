"""The reference executor: a forward pass driven by the :class:`~costmodel.spec.network.Network` the engine reads.

Shapes come from the network's nodes (``in_size``, ``out_size``, channels), never re-derived here. Weights are
prepared once (:func:`prepare`: batch norm folded into the convolutions, kernels reshaped for one matrix
product each, each layer padded as its spec says), then :func:`forward`, :func:`execute` and :func:`time_layers` run
them. Buffers are allocated on the first call for a batch size and reused afterwards.

Bias carrying. A convolution's epilogue ``relu(z + b)`` costs two passes over its output in NumPy (add, then
max). Where the next layer is linear, the executor does it in one, ``max(z, -b)``, which is the true output
minus ``b``, and carries ``b`` into that layer, which absorbs it exactly: a 1x1 or FC layer adds ``W^T b`` to
its bias, a depthwise layer ``b * sum(taps)``, a 3x3 convolution ``sum(W * b)``; padded borders hold ``-b``
(the stored value of a true zero); pooling passes ``b`` on. A layer that absorbed a carry outputs true values
(carries never chain: see ``_carry_biases``), and so does the layer before the softmax. In MobileNetV1 the
pointwise layers carry their biases into the depthwise layers that follow. Traced outputs have the carry
added back, so they are the true outputs of each layer.

Depthwise inputs. Most depthwise layers run "flat" (:class:`~costmodel.reference.kernels.FlatPlan`): they
read the previous layer's output unpadded, where its matrix product wrote it, and multiply the padding taps
by zero weights (their bias rows take back what a carried bias would have added there). The others read
zero-bordered planes (border value ``-b``) that the previous layer's epilogue writes into.

Blocks and other activations. A Residual or Scale block is one step whose body is prepared as a small network
of its own (biases carried inside it only; the block reads and writes true values), then its Add or Mul
(:func:`~costmodel.reference.kernels.add`, :func:`~costmodel.reference.kernels.scale_channels`). Only ReLU
and ReLU6 are clamps a bias can be carried past; h-swish, h-sigmoid, SiLU and sigmoid are applied to the true
output (:func:`~costmodel.reference.kernels.activate`), and such a layer writes its own buffer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import singledispatch
from typing import Any

import numpy as np

from ..checks import boolean, positive_int
from ..errors import InputError, SpecError, WeightsError
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
)
from ..spec.network import Network, Node
from . import kernels as K
from .plain import check_images, plain_kernel
from .weights import validate_weights

__all__ = [
    "Prepared",
    "Execution",
    "prepare",
    "execute",
    "forward",
    "time_layers",
    "check_images",
    "default_threads",
    "step_for",
]


@dataclass(frozen=True, slots=True)
class _Step:
    """One layer, ready to run: folded weights and the padding it gets."""

    node: Node
    op: str  # "conv", "depthwise", "pointwise", "pool", "fc", "softmax", "block", "add", "mul", "graph", "affine"
    kernel: np.ndarray | None = None
    bias: np.ndarray | None = None
    pad_y: tuple[int, int] = (0, 0)  # (top, bottom)
    pad_x: tuple[int, int] = (0, 0)  # (left, right)
    activation: str | None = None
    tiled: Any = None  # depthwise: the kernel laid out for its method (kernels.depthwise_weights, flat_plan)
    layout: K.PlaneLayout | None = None  # depthwise: how its input is padded and split into phase planes
    method: str | None = None  # depthwise: "flat", "taps" or "einsum" (kernels.depthwise_method)
    # Bias carrying (see the module docstring), set by _carry_biases:
    epi_bias: np.ndarray | None = None  # added to the output before clamping (only where values are true)
    lo: K.Bound = None  # clamp bounds of the epilogue
    hi: K.Bound = None
    carry_in: np.ndarray | None = None  # (in_ch,): the input is stored as true - carry_in
    carry_out: np.ndarray | None = None  # (out_ch,): the output is stored as true - carry_out
    post: str | None = None  # an activation that is not a clamp (h-swish...), applied after the epilogue
    inner: tuple[_Step, ...] = ()  # a Residual or Scale block: its body's steps, then its add or mul step
    branch_sizes: tuple[int, ...] = ()  # a Concat block: how many of ``inner``'s steps each branch has

    @property
    def name(self) -> str:
        return self.node.name


@dataclass(eq=False)
class Prepared:
    """One network's weights ready to run (BN folded, padding from the spec). Make with :func:`prepare`.

    It owns the activation buffers it reuses between calls: run one forward pass at a time on it (prepare
    another one per thread that runs passes concurrently).
    """

    network: Network
    steps: tuple[_Step, ...]
    threads: int = 1  # threads sharing the "taps" depthwise bands (matrix products use BLAS's own threads)
    _workspaces: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    def workspace(self, batch: int) -> dict[str, Any]:
        """Buffers for a batch size, allocated once (zero borders of padding buffers stay zero)."""
        return self._workspaces.setdefault(batch, {})

    @property
    def pool(self) -> ThreadPoolExecutor | None:
        return _thread_pool(self.threads) if self.threads > 1 else None


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _thread_pool(threads: int) -> ThreadPoolExecutor:
    """One shared pool per thread count (NumPy releases the GIL inside its array operations)."""
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="costmodel-reference")
    return _POOLS[threads]


def default_threads() -> int:
    """The CPUs this process may run on (as OpenBLAS's default), at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


@dataclass(frozen=True, slots=True)
class Execution:
    """What one forward pass measured.

    ``outputs`` is empty unless a trace was asked for. ``mult_adds`` are per image, counted by the kernels
    from the operand shapes they used; ``seconds`` is the wall time of each layer for the whole batch (a block
    as one layer), ``leaf_seconds`` the same with blocks timed layer by layer (their sub-layers and their Add or
    Mul, the keys of ``Network.leaves()``); each adds up to about the pass's wall time.
    """

    logits: np.ndarray  # (N, num_classes): the input of the softmax
    outputs: dict[str, np.ndarray]  # layer name -> output (N, H, W, C) or (N, classes), when traced
    mult_adds: dict[str, int]
    seconds: dict[str, float]
    leaf_seconds: dict[str, float] = field(default_factory=dict)


@singledispatch
def step_for(layer: object, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    """One layer ready to run: the executor's rule per layer type (its kernel is chosen here, once)."""
    raise SpecError(f"{node.name}: the reference executor has no kernel for {type(layer).__name__}")


@step_for.register
def _(layer: GlobalAvgPool, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    return _Step(node, "pool")


@step_for.register
def _(layer: Linear, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    bias = weights[f"{layer.name}/bias"] if layer.bias else None
    return _Step(node, "fc", weights[f"{layer.name}/kernel"], bias, activation=layer.activation)


@step_for.register
def _(layer: Softmax, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    return _Step(node, "softmax")


@step_for.register(Residual)
@step_for.register(Scale)
def _(layer: object, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    # The body runs on the block's input as a little network of its own (biases carried inside it only), then
    # the block's Add or Mul combines its output with the input (see _run_block).
    assert node.merge is not None
    return _Step(node, "block", inner=_little_network((*node.branches[0], node.merge), weights, node.in_ch))


def _little_network(nodes: tuple[Node, ...], weights: Mapping[str, np.ndarray], in_ch: int) -> tuple[_Step, ...]:
    """A block's body or branch prepared as a network of its own: biases carried inside it only, its last
    step writing true values."""
    steps = [step_for(sub.layer, sub, weights) for sub in nodes]
    return tuple(_plan_flat(s) for s in _carry_biases(steps, in_ch))


@step_for.register
def _(layer: Add, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    return _Step(node, "add")


@step_for.register
def _(layer: Mul, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    return _Step(node, "mul")


@step_for.register
def _(layer: Graph, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    # Every node prepared as a little network of its own (nothing carried between nodes: each writes true
    # values), run on the outputs its sources name (see _run_graph).
    return _Step(node, "graph", inner=tuple(_little_network((sub,), weights, sub.in_ch)[0] for sub in node.branches[0]))


@step_for.register
def _(layer: BatchNormAct, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    # The batch norm folded into a scale per channel (the kernel) and a shift (the bias); the activation is the
    # epilogue's, as for a convolution. An activation alone scales by nothing.
    scale = shift = None
    if layer.batch_norm:
        w = weights
        gamma = w[f"{layer.name}/gamma"] if layer.bn_scale else np.ones(layer.channels, np.float32)
        mean, var = w[f"{layer.name}/moving_mean"], w[f"{layer.name}/moving_variance"]
        scale64 = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + layer.bn_epsilon)
        scale = scale64.astype(np.float32)
        shift = (w[f"{layer.name}/beta"] - mean * scale64).astype(np.float32)
    return _Step(node, "affine", scale, shift, activation=layer.activation)


@step_for.register(Pool2d)
@step_for.register(AdaptiveAvgPool)
@step_for.register(Sum)
@step_for.register(Cat)
@step_for.register(ChannelSlice)
@step_for.register(ChannelShuffle)
@step_for.register(Zero)
def _(layer: object, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    # No tuned path: the plain kernel (costmodel.reference.plain), on true values; no multiply-accumulates.
    return _Step(node, "plain")


@step_for.register
def _(layer: Concat, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    # Each branch runs on the block's input as a little network of its own (biases carried inside it only,
    # its last layer writing true values); the outputs are concatenated on channels (see _run_concat).
    branches = [_little_network(branch, weights, node.in_ch) for branch in node.branches]
    inner = tuple(step for branch in branches for step in branch)
    return _Step(node, "concat", inner=inner, branch_sizes=tuple(len(branch) for branch in branches))


@step_for.register
def _(layer: Conv2d, node: Node, weights: Mapping[str, np.ndarray]) -> _Step:
    name = layer.name
    if layer.depthwise:
        kernel = weights[f"{name}/depthwise_kernel"][:, :, :, 0]  # (K, K, C)
        op = "depthwise"
    else:
        kernel = weights[f"{name}/kernel"]  # (K, K, M, N)
        op = "pointwise" if layer.kernel == 1 and layer.stride == 1 else "conv"
    bias = weights.get(f"{name}/bias") if layer.bias else None
    if layer.batch_norm:
        # A batch norm without gamma (TF-slim's checkpoints) scales by 1; each layer has its own epsilon.
        gamma = weights[f"{name}_bn/gamma"] if layer.bn_scale else np.ones(layer.out_ch, np.float32)
        bn = [weights[f"{name}_bn/{v}"] for v in ("beta", "moving_mean", "moving_variance")]
        kernel, bias = K.fold_batch_norm(kernel, bias, gamma, *bn, epsilon=layer.bn_epsilon)
    pad_y = K.pads(layer.padding, node.in_size, node.out_size, layer.kernel, layer.stride)  # the spec's padding
    if op == "pointwise":
        if pad_y != (0, 0):
            op = "conv"  # a padded 1x1 convolution: im2col handles it
        else:
            kernel = kernel.reshape(layer.in_ch, layer.out_ch)
    kernel = np.ascontiguousarray(kernel, dtype=np.float32)
    tiled = layout = method = None
    if op == "depthwise":
        # Each method reads its input split its own way, with the kernel laid out to match (kernels.py).
        method = K.depthwise_method(layer.in_ch, layer.stride)
        if method != "flat":  # a flat layer's plan needs its carried bias: _plan_flat, after _carry_biases
            tiled = K.depthwise_weights(kernel, method, node.out_size)
            extent = (node.out_size - 1) * layer.stride + layer.kernel
            layout = K.plane_layout(method, layer.stride, pad_y[0], extent)
    return _Step(
        node,
        op,
        kernel,
        None if bias is None else np.ascontiguousarray(bias, dtype=np.float32),
        pad_y,
        pad_y,  # square maps, square kernels: both axes are padded alike
        layer.activation,
        tiled,
        layout,
        method,
    )


_ABSORBERS = ("conv", "pointwise", "depthwise", "fc", "pool", "affine")  # linear in their input: can take a carry
_NO_EPILOGUE = (
    "block",
    "concat",
    "graph",
    "plain",
    "add",
    "mul",
)  # no bias or activation of their own; they read and write true values


def _absorb(step: _Step, carry: np.ndarray) -> np.ndarray:
    """What a layer's output gains when every input channel c is shifted by carry[c] (padding included)."""
    if step.op == "affine":  # a channel's shift scales with it
        return carry if step.kernel is None else carry * step.kernel.astype(np.float64)
    k = step.kernel.astype(np.float64)
    if step.op == "pointwise":
        return carry @ k  # (M,) @ (M, N)
    if step.op == "conv":
        return np.einsum("ijmn,m->n", k, carry)  # every window sums all K*K*M taps
    if step.op == "depthwise":
        return carry * k.sum(axis=(0, 1))  # (C,) * sum of the K*K taps per channel
    if step.op == "fc":  # flattened NHWC input: the carry repeats at every position
        return np.einsum("scn,c->n", k.reshape(-1, carry.size, k.shape[1]), carry)
    raise SpecError(f"{step.name}: {step.op} cannot absorb a carried bias")


def _carry_biases(steps: list[_Step], in_ch: int) -> tuple[_Step, ...]:
    """Decide each step's epilogue: carry its bias into the next layer where that layer can absorb it."""
    out = []
    carry = np.zeros(in_ch)
    for i, step in enumerate(steps):
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        if step.op == "softmax":
            out.append(replace(step, carry_in=carry.astype(np.float32)))
            continue
        if step.op in _NO_EPILOGUE:  # the layer before output true values: these are not absorbers
            carry_out = np.zeros(step.node.out_ch)
            out.append(replace(step, carry_in=carry.astype(np.float32), carry_out=carry_out.astype(np.float32)))
            carry = carry_out
            continue
        # Output true values before a layer that cannot absorb a carry (the softmax), and after absorbing one:
        # carries never chain, because a chain of absorbed biases grows layer by layer until the stored
        # values (true - carry) lose their float32 precision to cancellation.
        absorbed = bool(np.any(carry != 0))
        true_out = nxt is None or nxt.op not in _ABSORBERS or absorbed
        if step.op == "pool":
            adj, activation = carry, None
        else:
            own = np.zeros(step.node.out_ch) if step.bias is None else step.bias.astype(np.float64)
            adj, activation = own + _absorb(step, carry), step.activation
        post = None
        if activation not in K.CLAMPS:  # h-swish, SiLU...: applied after the true bias, so nothing carries
            post, activation, true_out = activation, None, True
        if true_out:
            lo, hi = K.clamp_bounds(activation)
            epi_bias, carry_out = adj.astype(np.float32), np.zeros_like(adj)
        else:
            lo, hi = K.clamp_bounds(activation, adj)
            epi_bias, carry_out = None, adj
        out.append(replace(step, epi_bias=epi_bias, lo=lo, hi=hi, carry_in=carry.astype(np.float32),
                           carry_out=carry_out.astype(np.float32), post=post))  # fmt: skip
        carry = carry_out
    return tuple(out)


def prepare(network: Network, weights: Mapping[str, np.ndarray], *, threads: int | None = None) -> Prepared:
    """Validate ``weights`` for ``network`` and prepare them for execution.

    Parameters
    ----------
    network : Network
    weights : mapping
        ``{key: float32 array}`` as from :func:`~costmodel.reference.init_weights` or
        :func:`~costmodel.reference.load_weights`.
    threads : int, optional
        Threads sharing the bands of the depthwise layers that run "taps" (stride 2, fewer than 64
        channels; default 1; :func:`default_threads` gives the usable CPUs). Matrix products use BLAS's own
        threads (``OPENBLAS_NUM_THREADS``), whose workers spin for a while after each product and compete
        with extra threads. On the 2-core machine of our benchmark, 2 threads gained nothing at 1.0-224 (a
        hand-off per layer costs what the second core saves; sharing the bands of the row-tiled einsum that
        "flat" runs at stride 1 made those layers 15 % slower), so the other methods run on the calling thread.
    """
    if not isinstance(network, Network):
        raise SpecError(f"expected a Network, got {type(network).__name__}")
    if threads is None:
        threads = 1
    positive_int(threads, "threads", InputError)
    validate_weights(network, weights)
    steps = [step_for(node.layer, node, weights) for node in network.nodes]
    return Prepared(network, tuple(_plan_flat(s) for s in _carry_biases(steps, network.in_ch)), threads)


def _plan_flat(step: _Step) -> _Step:
    """A "flat" depthwise step gets its per-row-class weights and bias rows, which take back what the carried
    bias of its input would have added at padding taps (kernels.FlatPlan); its bias is applied from there."""
    if step.method != "flat":
        return step
    carry = step.carry_in if np.any(step.carry_in != 0) else None
    if carry is not None and step.epi_bias is None:  # _carry_biases: a layer that absorbs outputs true values
        raise SpecError(f"{step.name}: a carried bias must be absorbed into the layer's own bias")
    node = step.node
    stride = node.layer.stride
    plan = K.flat_plan(step.kernel, node.in_size, node.out_size, step.pad_y[0], step.epi_bias, carry,
                       stride=stride, tiled=K.flat_tiled(node.in_ch, stride))  # fmt: skip
    return replace(step, tiled=plan, epi_bias=None)


def _buffer(ws: dict[str, Any], key: str, shape: tuple[int, ...]) -> np.ndarray:
    buf = ws.get(key)
    if buf is None or buf.shape != shape:
        buf = ws[key] = np.empty(shape, np.float32)
    return buf


def _planes(step: _Step, ws: dict[str, Any], n: int) -> dict[tuple[int, int], np.ndarray]:
    """The zero-bordered input planes of a depthwise step (allocated once per batch size)."""
    key = f"{step.name}/planes"
    if key not in ws:  # the border holds the stored value of a true zero
        ws[key] = step.layout.allocate(n, step.node.in_ch, fill=-step.carry_in)
    return ws[key]


def _flat_input(step: _Step, ws: dict[str, Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    """A "flat" depthwise step's input buffer and its (N, H, W, C) interior (allocated once per batch size)."""
    key = f"{step.name}/flat"
    if key not in ws:
        ws[key] = step.tiled.allocate(n, step.node.in_ch)
    return ws[key]


def _padded(step: _Step, x: np.ndarray, ws: dict[str, Any]) -> np.ndarray:
    """``x`` zero padded for a standard convolution (stride-1 plane layout: one plane)."""
    (top, bottom), (left, right) = step.pad_y, step.pad_x
    if top == bottom == left == right == 0:
        return x
    node = step.node
    layout = K.PlaneLayout(1, top, (node.out_size - 1) * node.layer.stride + node.layer.kernel)
    key = f"{step.name}/pad"
    if key not in ws:
        ws[key] = layout.allocate(x.shape[0], node.in_ch, fill=-step.carry_in)
    return layout.scatter(x, ws[key])[0, 0]


def _run_step(step: _Step, x: Any, ws: dict[str, Any], prepared: Prepared, into: _Step | None) -> tuple[Any, int]:
    """Run one step on ``x`` (an array, or a depthwise step's planes). With ``into`` (the next step, a
    depthwise one), write the output straight into its input planes and return those."""
    node, op = step.node, step.op
    if op == "plain":  # a layer type without a tuned path: its plain kernel (a Sum or Cat: on a list of inputs)
        return plain_kernel(node.layer, node, {}, x), 0
    n = x[0, 0].shape[0] if isinstance(x, dict) else x.shape[0]
    out_shape = (n, node.out_size, node.out_size, node.out_ch)
    if op == "depthwise" and step.method == "flat":
        buf, interior = _flat_input(step, ws, n)
        if x is not interior:  # not written there by the layer before (the first layer, or tracing)
            np.copyto(interior, x)
        return K.depthwise_flat(buf, step.tiled, n, _buffer(ws, step.name, out_shape), lo=step.lo, hi=step.hi)
    if op == "depthwise":
        planes = x if isinstance(x, dict) else step.layout.scatter(x, _planes(step, ws, n))
        return K.depthwise_planes(
            planes, step.tiled, step.epi_bias, node.layer.stride, node.layer.kernel, node.out_size,
            _buffer(ws, step.name, out_shape), lo=step.lo, hi=step.hi, pool=prepared.pool,
            workers=prepared.threads, method=step.method,
        )  # fmt: skip
    # Into a "flat" depthwise layer, the matrix product writes straight into that layer's input buffer.
    flat = into is not None and into.method == "flat"
    if op == "pointwise":
        dest = _flat_input(into, ws, n)[1] if flat else _buffer(ws, step.name, out_shape)
        z, mult_adds = K.pointwise_conv2d(x, step.kernel, None, out=dest)
    elif op == "conv":
        dest = _flat_input(into, ws, n)[1] if flat else _buffer(ws, step.name, out_shape)
        xp = _padded(step, x, ws)
        k = node.layer.kernel
        cols = _buffer(ws, f"{step.name}/cols", (n, node.out_size, node.out_size, k, k, node.in_ch))
        z, mult_adds = K.conv2d(xp, step.kernel, None, node.layer.stride, node.out_size, cols, dest)
    elif op == "pool":
        z, mult_adds = K.global_avg_pool(x), 0  # additions only: no multiply-accumulate
    elif op == "affine":  # a standalone batch norm's scale (its shift and activation: the epilogue below)
        z, mult_adds = (x * step.kernel if step.kernel is not None else x.copy()), 0
    elif op == "fc":
        z, mult_adds = K.linear(x, step.kernel, None)
    elif op == "softmax":  # exponentials and a division, no multiply-accumulate
        return K.softmax(x), 0
    else:  # no default branch: a step the executor does not know is an error, never a softmax
        raise SpecError(f"{step.name}: the executor has no step {op!r} ({type(node.layer).__name__})")
    if step.epi_bias is not None:
        z += step.epi_bias
    if into is not None and not flat:
        return into.layout.scatter(z, _planes(into, ws, n), step.lo, step.hi), mult_adds
    return K.clamp(z, step.lo, step.hi), mult_adds


def _run_layer(
    step: _Step, x: Any, ws: dict[str, Any], prepared: Prepared, into: _Step | None, clocks: dict[str, float]
) -> tuple[Any, int]:
    """One step of a network or a block body: a block runs its body (:func:`_run_block`, which records its
    layers' times in ``clocks``); any other layer its kernel (:func:`_run_step`), then an activation that is
    not a clamp (h-swish, SiLU...) on the true output (such a layer is never fused: :func:`_fuses`)."""
    if step.op == "block":
        return _run_block(step, x, ws, prepared, clocks)
    if step.op == "concat":
        return _run_concat(step, x, ws, prepared, clocks)
    if step.op == "graph":
        return _run_graph(step, x, ws, prepared, clocks)
    y, mult_adds = _run_step(step, x, ws, prepared, into)
    return (y, mult_adds) if step.post is None else (K.activate(y, step.post), mult_adds)


def _fuses(step: _Step, nxt: _Step | None) -> bool:
    """Whether ``step`` (a convolution) writes its activated output straight into the next layer's input (a
    depthwise layer's planes or flat buffer): one pass saved. Not with an activation applied after the
    epilogue (h-swish, SiLU...), which the scatter cannot apply."""
    return nxt is not None and nxt.op == "depthwise" and step.op in ("pointwise", "conv") and step.post is None


def _run_body(
    body: tuple[_Step, ...], x: np.ndarray, ws: dict[str, Any], prepared: Prepared, clocks: dict[str, float]
) -> tuple[np.ndarray, int]:
    """A block's body or branch: its steps one after another on ``x``, which stays intact (every step writes
    its own buffer). Each leaf's wall time goes into ``clocks`` under its name."""
    h, mult_adds = x, 0
    clock = time.perf_counter
    for i, sub in enumerate(body):
        nxt = body[i + 1] if i + 1 < len(body) else None
        start = clock()
        h, m = _run_layer(sub, h, ws, prepared, nxt if _fuses(sub, nxt) else None, clocks)
        if sub.op not in _BLOCK_OPS:  # a nested block has recorded its own leaves
            clocks[sub.name] = clock() - start
        mult_adds += m
    return h, mult_adds


def _run_concat(
    step: _Step, x: np.ndarray, ws: dict[str, Any], prepared: Prepared, clocks: dict[str, float]
) -> tuple[np.ndarray, int]:
    """A Concat block: every branch on ``x`` (:func:`_run_body`), the outputs concatenated on channels."""
    outs, mult_adds, start = [], 0, 0
    for size in step.branch_sizes:
        h, m = _run_body(step.inner[start : start + size], x, ws, prepared, clocks)
        outs.append(h)
        mult_adds += m
        start += size
    node = step.node
    out = _buffer(ws, step.name, (x.shape[0], node.out_size, node.out_size, node.out_ch))
    return np.concatenate(outs, axis=-1, out=out), mult_adds


def _run_graph(
    step: _Step, x: np.ndarray, ws: dict[str, Any], prepared: Prepared, clocks: dict[str, float]
) -> tuple[np.ndarray, int]:
    """A Graph: its nodes in order, each on the outputs its sources name (a Sum or Cat on the list of them);
    every node writes its own buffer, so an output stays intact while later nodes read it."""
    outs: list[np.ndarray] = []
    mult_adds = 0
    clock = time.perf_counter
    for sub in step.inner:
        ins = [x if j < 0 else outs[j] for j in sub.node.sources]
        start = clock()
        h, m = _run_layer(sub, ins if isinstance(sub.node.layer, MULTI_INPUT) else ins[0], ws, prepared, None, clocks)
        if sub.op not in _BLOCK_OPS:
            clocks[sub.name] = clock() - start
        outs.append(h)
        mult_adds += m
    return outs[-1], mult_adds


_BLOCK_OPS = ("block", "concat", "graph")  # steps made of steps: they time their own leaves


def _run_block(
    step: _Step, x: np.ndarray, ws: dict[str, Any], prepared: Prepared, clocks: dict[str, float]
) -> tuple[np.ndarray, int]:
    """A Residual or Scale block: its body's steps one after another on ``x`` (kept intact: every step writes
    its own buffer), then ``x + body(x)`` (:func:`~costmodel.reference.kernels.add`) or ``x * body(x)``
    (:func:`~costmodel.reference.kernels.scale_channels`) into the block's output buffer. Each leaf's wall
    time goes into ``clocks`` under its name."""
    *body, merge = step.inner
    h, mult_adds = _run_body(tuple(body), x, ws, prepared, clocks)
    clock = time.perf_counter
    start = clock()
    out = _buffer(ws, merge.name, x.shape)
    y = K.add(h, x, out=out) if merge.op == "add" else K.scale_channels(x, h, out=out)
    clocks[merge.name] = clock() - start
    return y, mult_adds


def _as_prepared(network: Network, weights: Mapping[str, np.ndarray] | Prepared) -> Prepared:
    """``weights`` if already prepared for ``network``, else prepared now."""
    if isinstance(weights, Prepared):
        if weights.network is not network and weights.network.nodes != network.nodes:
            raise WeightsError(f"prepared weights are for {weights.network.name}, not {network.name}")
        return weights
    return prepare(network, weights)


def execute(
    network: Network,
    weights: Mapping[str, np.ndarray] | Prepared,
    images: np.ndarray,
    *,
    trace: bool = False,
) -> Execution:
    """Run ``network`` on ``images`` and record per-layer executed Mult-Adds and wall time.

    Parameters
    ----------
    network : Network
    weights : mapping or Prepared
        Raw weights (validated and folded on each call) or the result of :func:`prepare` (reused).
    images : ndarray, shape (N, R, R, C)
        Preprocessed float images (Keras MobileNet: ``x / 127.5 - 1``).
    trace : bool
        Keep a copy of every layer's output (and run every layer unfused, so each output is its own).
    """
    boolean(trace, "trace", InputError)
    prepared = _as_prepared(network, weights)
    x = check_images(network, images)
    n = x.shape[0]
    ws = prepared.workspace(n)
    outputs: dict[str, np.ndarray] = {}
    mult_adds: dict[str, int] = {}
    seconds: dict[str, float] = {}
    leaf_seconds: dict[str, float] = {}
    logits = x
    clock = time.perf_counter
    steps = prepared.steps
    for i, step in enumerate(steps):
        if step.op == "softmax":
            logits = x
        # Unless tracing (which wants every layer's own output), a convolution followed by a depthwise layer
        # writes its activated output straight into that layer's padded input planes: one pass saved.
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        fuse = not trace and _fuses(step, nxt)
        start = clock()
        x, batch_mult_adds = _run_layer(step, x, ws, prepared, nxt if fuse else None, leaf_seconds)
        seconds[step.name] = clock() - start
        if step.op not in _BLOCK_OPS:
            leaf_seconds[step.name] = seconds[step.name]
        mult_adds[step.name] = batch_mult_adds // n
        if trace:  # stored values are true - carry_out: add it back
            outputs[step.name] = x + step.carry_out if step.carry_out is not None else np.array(x)
    if prepared.steps[-1].op != "softmax":
        logits = x
    return Execution(np.array(logits.reshape(n, -1)), outputs, mult_adds, seconds, leaf_seconds)


def forward(
    network: Network,
    weights: Mapping[str, np.ndarray] | Prepared,
    images: np.ndarray,
    *,
    trace: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Logits of ``network`` for a batch of images.

    Parameters
    ----------
    network : Network
        For example ``costmodel.mobilenet_v1(0.5, 160)``.
    weights : mapping or Prepared
        From :func:`~costmodel.reference.init_weights`, :func:`~costmodel.reference.load_weights`, or
        :func:`prepare` (to fold the batch norms once and reuse buffers across calls).
    images : ndarray, shape (N, R, R, 3)
        Preprocessed float images, NHWC.
    trace : bool
        Also return ``{layer name: output}`` for every layer (copies).

    Returns
    -------
    logits : ndarray, shape (N, num_classes)
        The classifier's output before the softmax.
    outputs : dict, only with ``trace=True``

    Examples
    --------
    >>> import numpy as np
    >>> from costmodel import mobilenet_v1
    >>> from costmodel.reference import init_weights
    >>> net = mobilenet_v1(0.25, 64, num_classes=10)
    >>> forward(net, init_weights(net), np.zeros((2, 64, 64, 3), np.float32)).shape
    (2, 10)
    """
    result = execute(network, weights, images, trace=trace)
    return (result.logits, result.outputs) if trace else result.logits


def time_layers(
    network: Network,
    weights: Mapping[str, np.ndarray] | Prepared,
    images: np.ndarray,
    repeats: int = 5,
) -> dict[str, float]:
    """Median wall time, in seconds, of every layer over ``repeats`` forward passes (after one warm-up).

    A layer's time includes its bias and activation; a convolution followed by a depthwise layer also writes
    its output into that layer's padded input (the depthwise time then starts from a ready input).

    Parameters
    ----------
    network : Network
    weights : mapping or Prepared
        Prepared once here if raw. Pass :func:`prepare`'s result to choose ``threads``.
    images : ndarray, shape (N, R, R, C)
    repeats : int
        Passes timed after one warm-up pass; each layer keeps its median.

    Returns
    -------
    dict
        ``{layer name: seconds}`` in network order, for the whole batch of ``images``.
    """
    positive_int(repeats, "repeats", InputError)
    prepared = _as_prepared(network, weights)
    execute(network, prepared, images)  # warm-up: allocate buffers, touch pages
    runs = [execute(network, prepared, images).seconds for _ in range(repeats)]
    return {step.name: float(np.median([r[step.name] for r in runs])) for step in prepared.steps}

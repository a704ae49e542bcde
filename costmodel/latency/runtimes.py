"""Measurement backends of the latency model: the NumPy reference executor and ONNX Runtime.

Both measure a network at batch 1 and return a :class:`Measurement`: seconds per spec layer and of a whole
forward pass. ONNX Runtime also says which kernel path ran each layer and what the runtime inserted between
layers, which is what the path-aware model in :mod:`costmodel.latency.model` is fitted to.

ONNX Runtime, step by step
--------------------------
- **Export.** The network goes through the project's own export (:func:`costmodel.reference.to_onnx`, seeded
  weights). Every ONNX node it writes is named after its spec layer: ``conv_dw_3``, ``conv_dw_3_bn``,
  ``conv_dw_3/relu``; the input transpose (``to_nchw``) and the ``logits`` identity belong to no layer.
- **Sessions.** ``intra_op_num_threads`` = the thread count (default 1), ``inter_op_num_threads`` = 1,
  sequential execution, and spinning off (``session.intra_op.allow_spinning = 0``): a spinning pool keeps
  its idle threads busy-waiting for the next node, which on a shared 2-core machine takes a core from the
  other processes and from the measured thread itself, and makes a single thread's time depend on how many
  cores happen to be free. Graph optimisation is ORT's default (all levels), as deployed.
- **Profiler.** Per-node times come from the runtime's own profiler (``enable_profiling``): a Chrome-trace
  JSON whose ``"Node"`` events are named ``<node>_kernel_time`` and carry ``op_name`` and the input/output
  shapes; ``"model_run"`` events delimit the runs (:func:`parse_profile`).
- **Fused nodes.** ORT folds Conv + BatchNormalization + activation into one node and names it after one of
  the nodes it absorbed: ``FusedConv`` keeps the Conv's name (``conv_dw_1``); a convolution moved to the
  blocked NCHWc layout takes the last absorbed node's name plus ``_nchwc`` (``conv1/relu_nchwc``); Gemm +
  activation becomes ``FusedGemm`` named ``fused `` plus the Gemm's name (``fused fc6``). All the
  absorbed nodes are named after the same layer, so the longest layer name that prefixes the node name, at a
  boundary (``/``, ``_bn``, ``_nchwc`` or the end), is the layer it belongs to (:func:`node_layer`). Its whole
  time goes to that layer.
- **Glue.** Nodes that map to no layer -- the ``ReorderInput``/``ReorderOutput`` nodes ORT inserts where the
  layout changes between NCHW and NCHWc, the input transpose, the ``logits`` identity -- are charged to the
  next layer, as the cost of getting its input into the layout it runs in (``glue_s``).
- **Kernel path.** A layer's path is read off its node: ``"nchwc"`` when ORT gave it the ``_nchwc`` suffix,
  else the op type the profiler reports less a ``Fused`` prefix (``Conv`` for a ``FusedConv``, ``Gemm``,
  ``GlobalAveragePool``...: a fused activation does not change the kernel). Nothing here knows
  ORT's rules for choosing a path; calibration learns them from these observations.
- **Protocol.** Each round measures every network in turn (interleaved): first whole forward passes with the
  profiler off, in a fresh session that is the only one alive, then per-node times in a second, profiled
  session. Each network keeps its fastest unprofiled pass over all rounds, and per node the best round's
  median (a sum of per-node minima taken from different runs would be faster than any real pass). The
  profiler itself costs a few microseconds per node, part of which lands inside the node durations; whole
  passes measured without it are what the model's whole-pass terms are fitted to.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import CostModelError, ProfileError
from ..spec.network import Network, Node

__all__ = [
    "RUNTIMES",
    "RUNTIME_NAMES",
    "Measurement",
    "NodeTime",
    "LayerNodes",
    "parse_profile",
    "node_layer",
    "leaf_nodes",
    "map_nodes",
    "ort_session_options",
    "measure_onnxruntime",
    "measurement_from_profile",
    "activation_seconds",
    "profile_events",
    "runtime_version",
    "cpu_model",
]

#: The measurement backends ``costmodel calibrate --runtime`` accepts.
RUNTIMES = ("numpy", "onnxruntime")

#: What each ``Measurement.runtime`` is called in reports and figures.
RUNTIME_NAMES = {"numpy": "NumPy reference executor", "onnxruntime": "ONNX Runtime", "synthetic": "synthetic device"}

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


@dataclass(frozen=True, slots=True, eq=False)
class Measurement:
    """Measured latency of one network at batch 1.

    ``layer_s`` has seconds per spec layer (leaf layers inside blocks by their own names); ``forward_s`` is one
    whole forward pass; ``runtime`` says what measured it. ONNX Runtime also fills ``path_of`` (the kernel path
    each layer ran on), ``glue_s`` (time of the nodes the runtime ran before a layer to get its input into
    shape: reorders, transposes) and ``nodes`` (the per-node times the layers were summed from).
    """

    network: Network
    layer_s: Mapping[str, float]
    forward_s: float
    path_of: Mapping[str, str] = field(default_factory=dict)
    glue_s: Mapping[str, float] = field(default_factory=dict)
    nodes: tuple[LayerNodes, ...] = ()
    activation_s: Mapping[str, float] = field(default_factory=dict)  # part of layer_s: unfused activation nodes
    runtime: str = ""  # what measured: "numpy", "onnxruntime" or "synthetic" (a stand-in device); "" unknown


@dataclass(frozen=True, slots=True)
class NodeTime:
    """One node of one profiled run: its name, op type, seconds and shapes, as the profiler reports them."""

    name: str  # without the profiler's "_kernel_time" suffix
    op_type: str
    seconds: float
    input_shapes: tuple[tuple[int, ...], ...]
    output_shapes: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True)
class LayerNodes:
    """The runtime nodes of one spec layer and the glue nodes run just before it."""

    layer: str
    path: str  # "nchwc" or the op type of the layer's first node
    nodes: tuple[NodeTime, ...]
    glue: tuple[NodeTime, ...]

    @property
    def seconds(self) -> float:
        return sum(n.seconds for n in self.nodes)

    @property
    def glue_s(self) -> float:
        return sum(n.seconds for n in self.glue)


_SUFFIX = "_kernel_time"
NCHWC = "_nchwc"
FUSED = "fused "  # ORT's GemmActivationFusion names the FusedGemm "fused <gemm>"


def _shapes(value: object) -> tuple[tuple[int, ...], ...]:
    out = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, Mapping):
            for dims in item.values():
                out.append(tuple(int(d) for d in dims))
    return tuple(out)


def parse_profile(events: object) -> list[list[NodeTime]]:
    """Split ONNX Runtime profiler events into runs: one list of :class:`NodeTime` per ``model_run``.

    events : the parsed JSON of the file ``InferenceSession.end_profiling()`` writes (a list of trace events).
    Node events outside every run (there are none in practice) are dropped.

    >>> ev = [{"cat": "Session", "name": "model_run", "ts": 0, "dur": 50},
    ...       {"cat": "Node", "name": "conv1_kernel_time", "ts": 5, "dur": 20,
    ...        "args": {"op_name": "FusedConv", "input_type_shape": [{"float": [1, 3, 8, 8]}]}}]
    >>> parse_profile(ev)[0][0]
    NodeTime(name='conv1', op_type='FusedConv', seconds=2e-05, input_shapes=((1, 3, 8, 8),), output_shapes=())
    """
    if not isinstance(events, list):
        raise ProfileError(f"an ONNX Runtime profile is a JSON list of trace events, got {type(events).__name__}")
    runs = sorted(
        (float(e["ts"]), float(e["ts"]) + float(e["dur"]))
        for e in events
        if isinstance(e, Mapping) and e.get("cat") == "Session" and e.get("name") == "model_run"
    )
    out: list[list[tuple[float, NodeTime]]] = [[] for _ in runs]
    for e in events:
        if not (isinstance(e, Mapping) and e.get("cat") == "Node" and str(e.get("name", "")).endswith(_SUFFIX)):
            continue
        args = e.get("args", {}) if isinstance(e.get("args"), Mapping) else {}
        ts = float(e["ts"])
        node = NodeTime(
            str(e["name"])[: -len(_SUFFIX)],
            str(args.get("op_name", "")),
            float(e["dur"]) / 1e6,  # microseconds
            _shapes(args.get("input_type_shape")),
            _shapes(args.get("output_type_shape")),
        )
        for i, (start, end) in enumerate(runs):
            if start <= ts <= end:
                out[i].append((ts, node))
                break
    return [[node for _, node in sorted(run, key=lambda pair: pair[0])] for run in out]


def node_layer(node_name: str, layer_names: Sequence[str]) -> str | None:
    """The spec layer a runtime node belongs to: the longest layer name prefixing it at a boundary, or None.

    >>> names = ["conv1", "conv_dw_1", "conv_dw_10", "fc", "fc6"]
    >>> [node_layer(n, names) for n in ("conv_dw_1", "conv_dw_10/relu_nchwc", "conv1_bn", "fc/flat", "ReorderInput")]
    ['conv_dw_1', 'conv_dw_10', 'conv1', 'fc', None]
    >>> node_layer("fused fc6", names)  # ORT's FusedGemm
    'fc6'
    """
    name = node_name.removesuffix(NCHWC).removeprefix(FUSED)
    best = None
    for layer in layer_names:
        at_boundary = name == layer or (name.startswith(layer) and name[len(layer) :].startswith(("/", "_bn")))
        if at_boundary and (best is None or len(layer) > len(best)):
            best = layer
    return best


def leaf_nodes(network: Network) -> list[Node]:
    """The network's placed leaf layers in execution order (the layers inside blocks, not the blocks)."""
    return [leaf for node in network.nodes for leaf in node.leaves()]


def map_nodes(network: Network, run: Sequence[NodeTime]) -> dict[str, LayerNodes]:
    """Attribute every node of one run to a spec layer (see the module docstring), in network order.

    Blocks (Residual, Concat) are attributed by name too: a node named after the block itself (its add) goes
    to the block. Glue after the last layer goes to the last layer.
    """
    names = [n.layer.name for n in leaf_nodes(network)] + [n.layer.name for n in network.nodes if n.branches]
    grouped: dict[str, tuple[list[NodeTime], list[NodeTime]]] = {}
    pending: list[NodeTime] = []
    last = None
    for node in run:
        layer = node_layer(node.name, names)
        if layer is None:
            pending.append(node)
            continue
        nodes, glue = grouped.setdefault(layer, ([], []))
        nodes.append(node)
        glue.extend(pending)
        pending, last = [], layer
    if last is None:
        raise ProfileError("no node of the runtime's profile belongs to a layer of the network (names differ?)")
    grouped[last][1].extend(pending)
    return {
        layer: LayerNodes(layer, _path(nodes, layer), tuple(nodes), tuple(glue))
        for layer, (nodes, glue) in grouped.items()
    }


def _path(nodes: Sequence[NodeTime], layer: str) -> str:
    """``"nchwc"`` when a node of the layer carries ORT's NCHWc suffix, else the op type of its main node, less
    ORT's ``Fused`` prefix: ``FusedConv`` and ``FusedGemm`` are the ``Conv`` and ``Gemm`` kernels with the
    activation applied to their output, the same kernel path whether a layer has an activation or not (VGG's
    fc6 and fc7 are ``FusedGemm``, its fc8 ``Gemm``, all with 4,096 inputs).

    The main node is the one named exactly after the layer, else the layer's longest-running node.
    """
    if any(n.name.endswith(NCHWC) for n in nodes):
        return "nchwc"
    exact = [n for n in nodes if n.name == layer or n.name == FUSED + layer]
    main = exact[0] if exact else max(nodes, key=lambda n: n.seconds)
    return main.op_type.removeprefix("Fused") or main.op_type


def ort_session_options(threads: int = 1, profile_prefix: str | None = None) -> Any:
    """SessionOptions for measuring: ``threads`` intra-op threads, one inter-op thread, spinning off."""
    ort = _ort()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 3
    if profile_prefix is not None:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return so


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - depends on the environment
        raise CostModelError("--runtime onnxruntime needs onnxruntime: pip install 'costmodel[onnx]'") from None
    return onnxruntime


def runtime_version(runtime: str) -> str:
    """The version string of ``runtime`` ("numpy" or "onnxruntime")."""
    if runtime == "onnxruntime":
        return str(_ort().__version__)
    import numpy as np

    return str(np.__version__)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what :mod:`platform` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _export(network: Network, seed: int) -> bytes:
    from ..reference import init_weights
    from ..reference.onnx_export import to_onnx

    return to_onnx(network, init_weights(network, seed=seed)).SerializeToString()


def _timed_runs(session: Any, feed: Mapping[str, Any], warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        session.run(None, feed)
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        out.append(time.perf_counter() - start)
    return out


def profile_events(
    model: bytes, feed: Mapping[str, Any], threads: int, runs: int, warmup: int = 3
) -> list[dict[str, Any]]:
    """The profiler's events of ``warmup + runs`` runs of ``model`` in a fresh, profiled session."""
    ort = _ort()
    with tempfile.TemporaryDirectory(prefix="costmodel-ort-") as folder:
        options = ort_session_options(threads, os.path.join(folder, "profile"))
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        for _ in range(warmup + runs):
            session.run(None, feed)
        path = session.end_profiling()
        del session
        with open(path, encoding="utf-8") as f:
            events: list[dict[str, Any]] = json.load(f)
    return events


def measurement_from_profile(network: Network, events: object, forward_s: float, skip: int = 0) -> Measurement:
    """A :class:`Measurement` from profiler events (the runs after the first ``skip``) and a whole-pass time.

    Per node, the median over the runs; per layer, the sum of its nodes (:func:`map_nodes`).
    """
    runs = parse_profile(events)[skip:]
    if not runs:
        raise ProfileError(f"{network.name}: the runtime's profile has no run after the first {skip}")
    return _measurement(network, forward_s, _median_run(network, [map_nodes(network, run) for run in runs]))


def _measurement(network: Network, forward_s: float, nodes: Mapping[str, LayerNodes]) -> Measurement:
    activations = {leaf.name: getattr(leaf.layer, "activation", None) for leaf in leaf_nodes(network)}
    return Measurement(
        network,
        {layer: ln.seconds for layer, ln in nodes.items()},
        forward_s,
        {layer: ln.path for layer, ln in nodes.items()},
        {layer: ln.glue_s for layer, ln in nodes.items()},
        tuple(nodes.values()),
        {layer: activation_seconds(ln, activations.get(layer)) for layer, ln in nodes.items()},
        "onnxruntime",
    )


def activation_seconds(ln: LayerNodes, activation: str | None) -> float:
    """Seconds of a layer's activation when the runtime ran it as nodes of its own (not fused into the layer).

    The export names an activation node ``<layer>/<activation>``; a node after the layer's first one whose name
    starts so is the activation (the first one is the layer itself, which may carry the name when the activation
    was fused into it: ``conv1/relu_nchwc``).
    """
    if not activation:
        return 0.0
    prefix = f"{ln.layer}/{activation}"
    return sum(n.seconds for n in ln.nodes[1:] if n.name.startswith(prefix))


def profile_network(
    network: Network, model: bytes, feed: Mapping[str, Any], threads: int, repeats: int, warmup: int = 3
) -> list[dict[str, LayerNodes]]:
    """Run ``model`` ``repeats`` times under the profiler (after ``warmup`` runs); one mapping per run."""
    events = profile_events(model, feed, threads, repeats, warmup)
    runs = parse_profile(events)[warmup:]
    return [map_nodes(network, run) for run in runs]


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _median_run(
    network: Network,
    runs: Sequence[Mapping[str, LayerNodes]],
    summary: Callable[[Sequence[float]], float] | None = None,
) -> dict[str, LayerNodes]:
    """One mapping whose node times are the per-node medians (or ``summary``) over ``runs``.

    Nodes are matched by name (the runs of one session execute the same plan; a node missing from a run, which
    does not happen in practice, counts only where it ran).
    """
    summary = summary or _median
    out = {}
    for layer, ln in runs[0].items():
        times: dict[tuple[bool, str], list[float]] = {}
        for run in runs:
            other = run.get(layer)
            for glue, nodes in ((False, other.nodes if other else ()), (True, other.glue if other else ())):
                for n in nodes:
                    times.setdefault((glue, n.name), []).append(n.seconds)
        nodes = tuple(_replace(n, summary(times[False, n.name])) for n in ln.nodes)
        glue = tuple(_replace(n, summary(times[True, n.name])) for n in ln.glue)
        out[layer] = LayerNodes(layer, ln.path, nodes, glue)
    return out


def _replace(node: NodeTime, seconds: float) -> NodeTime:
    return NodeTime(node.name, node.op_type, seconds, node.input_shapes, node.output_shapes)


def _min_layers(a: Mapping[str, LayerNodes], b: Mapping[str, LayerNodes]) -> dict[str, LayerNodes]:
    """Per layer, the round in which it (its nodes and the glue before it) took less time.

    Whole layers, not nodes: in a graph with parallel branches (squeeze-and-excite, residuals) two sessions may
    order the nodes differently, and the glue before a layer then differs too.
    """
    out = dict(a)
    for layer, y in b.items():
        x = out.get(layer)
        if x is None or y.seconds + y.glue_s < x.seconds + x.glue_s:
            out[layer] = y
    return out


def measure_onnxruntime(
    networks: Sequence[Network],
    repeats: int = 10,
    rounds: int = 5,
    seed: int = 0,
    threads: int = 1,
    progress: Progress = _quiet,
    statistic: str = "min",
) -> list[Measurement]:
    """Measure every network with ONNX Runtime (see the module docstring for the protocol).

    Returns one :class:`Measurement` per network: ``forward_s`` the fastest whole pass over all rounds
    (``statistic="min"``, the default) or the best round's median pass (``"median"``), profiler off;
    ``layer_s`` and ``glue_s`` per layer from the per-node medians of a round, the best round per node, profiler
    on. On a loaded machine the fastest pass is the figure least disturbed by other processes; per node, the
    median of a round (a sum of per-node minima over different runs would be faster than any real pass).
    """
    summary = min if statistic == "min" else _median
    import numpy as np

    ort = _ort()
    models = [_export(net, seed) for net in networks]
    rng = np.random.default_rng(seed)
    feeds = [
        {"images": rng.standard_normal((1, net.input_size, net.input_size, net.in_ch), dtype=np.float32)}
        for net in networks
    ]
    best_wall = [float("inf")] * len(networks)
    best_nodes: list[dict[str, LayerNodes] | None] = [None] * len(networks)
    for r in range(rounds):
        for i, (net, model, feed) in enumerate(zip(networks, models, feeds, strict=True)):
            progress(f"round {r + 1}/{rounds}, network {i + 1}/{len(networks)}: {net.name} ...")
            session = ort.InferenceSession(model, ort_session_options(threads), providers=["CPUExecutionProvider"])
            best_wall[i] = min(best_wall[i], summary(_timed_runs(session, feed, 3, repeats)))
            del session
            gc.collect()  # one live session at a time
            median = _median_run(net, profile_network(net, model, feed, threads, repeats))
            old = best_nodes[i]
            best_nodes[i] = median if old is None else _min_layers(old, median)
            gc.collect()
    out = []
    for net, wall, nodes in zip(networks, best_wall, best_nodes, strict=True):
        assert nodes is not None
        out.append(_measurement(net, wall, nodes))
    return out

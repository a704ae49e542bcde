"""Export a network and its weights as a ``.tflite`` file, float32 or int8, without TensorFlow.

The file is a flatbuffer written with the ``flatbuffers`` package's Builder, table by table, following TFLite's
schema (``tensorflow/compiler/mlir/lite/schema/schema.fbs``: the field slots below are its field order). The
operators are :func:`~costmodel.reference.tflite_graph.lower`'s (batch norm folded, ReLU/ReLU6 fused, NHWC);
int8 files follow TFLite's quantisation specification (:func:`~costmodel.reference.tflite_graph.quantize`), with
an int8 input and an int8 output (the logits; no QUANTIZE/DEQUANTIZE operators).

LiteRT (``pip install ai-edge-litert``) loads and runs the files; the tests compare them with the NumPy executor,
ONNX Runtime and the integer reference :mod:`costmodel.reference.int8`.

Needs the optional ``litert`` extra (``pip install 'costmodel[litert]'``) for ``flatbuffers``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .._files import atomic_write
from ..checks import boolean, one_of
from ..errors import CostModelError, InputError
from ..spec.network import Network
from .tflite_graph import Graph, GraphOp, QuantizedGraph, activation_ranges, lower, quantize

__all__ = ["export_tflite", "to_tflite", "tflite_bytes", "DTYPES"]

#: The data types a file can be written in.
DTYPES = ("float32", "int8")

# TFLite schema enums (schema.fbs): TensorType, BuiltinOperator, BuiltinOptions, Padding, ActivationFunctionType.
_FLOAT32, _INT32, _INT8 = 0, 2, 9
_OPS = {  # kind -> (BuiltinOperator, BuiltinOptions, op version for float32, for int8)
    "conv": (3, 1, 1, 3),  # CONV_2D, Conv2DOptions
    "depthwise": (4, 2, 1, 3),  # DEPTHWISE_CONV_2D, DepthwiseConv2DOptions
    "avg_pool": (1, 5, 1, 2),  # AVERAGE_POOL_2D, Pool2DOptions
    "max_pool": (17, 5, 1, 2),  # MAX_POOL_2D, Pool2DOptions
    "fc": (9, 8, 1, 4),  # FULLY_CONNECTED, FullyConnectedOptions
    "reshape": (22, 17, 1, 1),  # RESHAPE, ReshapeOptions
    "add": (0, 11, 1, 2),  # ADD, AddOptions
    "pad": (34, 22, 1, 2),  # PAD, PadOptions
    "concat": (2, 10, 1, 2),  # CONCATENATION, ConcatenationOptions
    "softmax": (25, 9, 1, 2),  # SOFTMAX, SoftmaxOptions (float32 only)
    "hardswish": (117, 0, 1, 1),  # HARD_SWISH, no options (float32 only)
    "logistic": (14, 0, 1, 1),  # LOGISTIC, no options (float32 only)
    "mul": (18, 21, 1, 1),  # MUL, MulOptions (float32 only)
}
_PADDING = {"SAME": 0, "VALID": 1}
_MAX_FLATBUFFER = 2**31 - 2**20  # a flatbuffer's offsets are 32-bit; keep 1 MiB for the tables
_ACTIVATION = {None: 0, "relu": 1, "relu6": 3}


def _flatbuffers() -> Any:
    try:
        import flatbuffers
    except ImportError:  # pragma: no cover - depends on the environment
        raise CostModelError("TFLite export needs the flatbuffers package: pip install 'costmodel[litert]'") from None
    return flatbuffers


class _Writer:
    """Tensors and buffers collected before the flatbuffer is built (flatbuffers are built leaves first)."""

    def __init__(self) -> None:
        self.buffers: list[bytes] = [b""]  # buffer 0: the empty sentinel every activation points at
        self.tensors: list[dict[str, Any]] = []
        self.index: dict[str, int] = {}

    def tensor(
        self,
        name: str,
        shape: tuple[int, ...],
        ttype: int,
        data: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        zero_point: np.ndarray | None = None,
        axis: int = 0,
    ) -> int:
        buffer = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data).tobytes())
            buffer = len(self.buffers) - 1
        self.tensors.append(dict(name=name, shape=shape, type=ttype, buffer=buffer, scale=scale,
                                 zero_point=zero_point, axis=axis))  # fmt: skip
        self.index[name] = len(self.tensors) - 1
        return self.index[name]


def _activation_tensor(w: _Writer, name: str, shape: tuple[int, ...], q: QuantizedGraph | None) -> int:
    if q is None:
        return w.tensor(name, shape, _FLOAT32)
    t = q.tensors[name]
    return w.tensor(name, shape, _INT8, scale=np.array([t.scale], np.float32),
                    zero_point=np.array([t.zero_point], np.int64))  # fmt: skip


def _constants(w: _Writer, op: GraphOp, q: QuantizedGraph | None) -> list[int]:
    """The weight, bias (or -1) and other constant inputs of ``op``, as tensor indices."""
    if op.kind == "pad":
        pads = np.array([[0, 0], list(op.pads), list(op.pads), [0, 0]], np.int32)
        return [w.tensor(f"{op.name}/paddings", (4, 2), _INT32, pads)]
    if op.constant is not None:
        return [w.tensor(f"{op.name}/constant", op.constant.shape, _FLOAT32, op.constant.astype(np.float32))]
    if op.weight is None:
        return []
    assert op.weight is not None
    out_ch = op.weight.shape[3] if op.kind == "depthwise" else op.weight.shape[0]
    if q is None:
        ids = [w.tensor(f"{op.name}/weights", op.weight.shape, _FLOAT32, op.weight.astype(np.float32))]
        if op.bias is not None:
            ids.append(w.tensor(f"{op.name}/bias", (out_ch,), _FLOAT32, op.bias.astype(np.float32)))
        else:
            ids.append(-1)
        return ids
    scales = q.weight_scales[op.name]
    axis = 3 if op.kind == "depthwise" else 0
    ids = [w.tensor(f"{op.name}/weights", op.weight.shape, _INT8, q.weights[op.name], scales,
                    np.zeros(scales.size, np.int64), axis if scales.size > 1 else 0)]  # fmt: skip
    if op.name in q.biases:
        bias_scale = (np.float32(q.tensors[op.inputs[0]].scale) * scales).astype(np.float32)
        if bias_scale.size == 1 and out_ch > 1:
            bias_scale = np.full(1, bias_scale[0], np.float32)
        ids.append(w.tensor(f"{op.name}/bias", (out_ch,), _INT32, q.biases[op.name], bias_scale,
                            np.zeros(bias_scale.size, np.int64), 0))  # fmt: skip
    else:
        ids.append(-1)
    return ids


def _vector(b: Any, values: list[int], prepend: str) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        getattr(b, prepend)(v)
    return int(b.EndVector())


def _bytes_vector(b: Any, data: bytes) -> int:
    """A ubyte vector aligned to 16 bytes (weights are read in place, as float32 and int32 arrays)."""
    b.StartVector(1, len(data), 16)
    b.head = b.head - len(data)
    b.Bytes[b.head : b.head + len(data)] = data
    b.vectorNumElems = len(data)
    return int(b.EndVector())


def _numpy_vector(b: Any, values: np.ndarray) -> int:
    return int(b.CreateNumpyVector(np.ascontiguousarray(values)))


def _options(b: Any, op: GraphOp) -> int | None:
    """The op's BuiltinOptions table (slots in schema.fbs order), or None for an operator without options."""
    if _OPS[op.kind][1] == 0:
        return None
    act = _ACTIVATION[op.activation]
    if op.kind == "reshape":
        new_shape = _vector(b, [-1, *op.shape[1:]], "PrependInt32")  # any batch
        b.StartObject(1)
        b.PrependUOffsetTRelativeSlot(0, new_shape, 0)
        return int(b.EndObject())
    slots = {"conv": 7, "depthwise": 7, "avg_pool": 6, "max_pool": 6, "fc": 6, "add": 2, "pad": 0, "concat": 2,
             "softmax": 1, "mul": 1}  # fmt: skip
    b.StartObject(slots[op.kind])
    if op.kind in ("conv", "depthwise"):
        b.PrependInt8Slot(0, _PADDING[op.padding], 0)
        b.PrependInt32Slot(1, op.stride, 0)  # stride_w
        b.PrependInt32Slot(2, op.stride, 0)  # stride_h
        if op.kind == "conv":
            b.PrependInt8Slot(3, act, 0)
        else:
            b.PrependInt32Slot(3, 1, 0)  # depth_multiplier
            b.PrependInt8Slot(4, act, 0)
    elif op.kind in ("avg_pool", "max_pool"):
        b.PrependInt8Slot(0, _PADDING[op.padding], 0)
        b.PrependInt32Slot(1, op.stride, 0)
        b.PrependInt32Slot(2, op.stride, 0)
        b.PrependInt32Slot(3, op.kernel, 0)  # filter_width
        b.PrependInt32Slot(4, op.kernel, 0)  # filter_height
        b.PrependInt8Slot(5, act, 0)
    elif op.kind in ("fc", "add", "mul"):
        b.PrependInt8Slot(0, act, 0)
    elif op.kind == "concat":
        b.PrependInt32Slot(0, 3, 0)  # axis: channels (NHWC)
        b.PrependInt8Slot(1, act, 0)
    elif op.kind == "softmax":
        b.PrependFloat32Slot(0, 1.0, 0.0)  # beta
    return int(b.EndObject())


def tflite_bytes(graph: Graph, quantized: QuantizedGraph | None = None) -> bytes:
    """The ``.tflite`` flatbuffer of a lowered graph: float32, or int8 with ``quantized``'s parameters."""
    flatbuffers = _flatbuffers()
    q = quantized
    w = _Writer()
    in_id = _activation_tensor(w, graph.input, graph.input_shape, q)
    shapes = graph.shapes()
    operators: list[tuple[GraphOp, list[int], int]] = []
    for op in graph.ops:
        inputs = [w.index[name] for name in op.inputs] + _constants(w, op, q)
        out_id = _activation_tensor(w, op.output, shapes[op.output], q)
        operators.append((op, inputs, out_id))
    kinds = list(dict.fromkeys(op.kind for op in graph.ops))
    total = sum(len(d) for d in w.buffers)
    if total > _MAX_FLATBUFFER:  # checked before the builder allocates it
        raise CostModelError(
            f"{graph.network.name}: {total:,} bytes of constants exceed a flatbuffer's 2 GiB limit (TFLite "
            "stores larger models with external buffers, which this export does not write)"
        )

    b = flatbuffers.Builder(1024 + sum(len(d) for d in w.buffers))
    buffers = []
    for data in w.buffers:
        vec = _bytes_vector(b, data) if data else None
        b.StartObject(3)
        if vec is not None:
            b.PrependUOffsetTRelativeSlot(0, vec, 0)
        buffers.append(b.EndObject())
    tensors = []
    for t in w.tensors:
        name = b.CreateString(t["name"])
        shape = _vector(b, list(t["shape"]), "PrependInt32")
        quant = None
        if t["scale"] is not None:
            scale = _numpy_vector(b, t["scale"].astype("<f4"))
            zero = _numpy_vector(b, t["zero_point"].astype("<i8"))
            b.StartObject(7)
            b.PrependUOffsetTRelativeSlot(2, scale, 0)
            b.PrependUOffsetTRelativeSlot(3, zero, 0)
            b.PrependInt32Slot(6, t["axis"], 0)  # quantized_dimension
            quant = b.EndObject()
        b.StartObject(11)
        b.PrependUOffsetTRelativeSlot(0, shape, 0)
        b.PrependInt8Slot(1, t["type"], 0)
        b.PrependUint32Slot(2, t["buffer"], 0)
        b.PrependUOffsetTRelativeSlot(3, name, 0)
        if quant is not None:
            b.PrependUOffsetTRelativeSlot(4, quant, 0)
        tensors.append(b.EndObject())
    ops = []
    for op, inputs, out_id in operators:
        options = _options(b, op)
        ins = _vector(b, inputs, "PrependInt32")
        outs = _vector(b, [out_id], "PrependInt32")
        b.StartObject(14)
        b.PrependUint32Slot(0, kinds.index(op.kind), 0)  # opcode_index
        b.PrependUOffsetTRelativeSlot(1, ins, 0)
        b.PrependUOffsetTRelativeSlot(2, outs, 0)
        if options is not None:
            b.PrependUint8Slot(3, _OPS[op.kind][1], 0)  # builtin_options_type
            b.PrependUOffsetTRelativeSlot(4, options, 0)
        ops.append(b.EndObject())
    codes = []
    for kind in kinds:
        code, _, v_float, v_int8 = _OPS[kind]
        b.StartObject(4)
        b.PrependInt8Slot(0, min(code, 127), 0)  # deprecated_builtin_code
        b.PrependInt32Slot(2, v_int8 if q is not None else v_float, 1)
        b.PrependInt32Slot(3, code, 0)  # builtin_code
        codes.append(b.EndObject())

    def table_vector(items: list[int]) -> int:
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return int(b.EndVector())

    tensor_vec = table_vector(tensors)
    sub_inputs = _vector(b, [in_id], "PrependInt32")
    sub_outputs = _vector(b, [w.index[graph.output]], "PrependInt32")
    op_vec = table_vector(ops)
    sub_name = b.CreateString("main")
    b.StartObject(6)
    b.PrependUOffsetTRelativeSlot(0, tensor_vec, 0)
    b.PrependUOffsetTRelativeSlot(1, sub_inputs, 0)
    b.PrependUOffsetTRelativeSlot(2, sub_outputs, 0)
    b.PrependUOffsetTRelativeSlot(3, op_vec, 0)
    b.PrependUOffsetTRelativeSlot(4, sub_name, 0)
    subgraph = b.EndObject()
    code_vec = table_vector(codes)
    subgraph_vec = table_vector([subgraph])
    buffer_vec = table_vector(buffers)
    description = b.CreateString(f"costmodel: {graph.network.name}")
    b.StartObject(10)
    b.PrependUint32Slot(0, 3, 0)  # schema version
    b.PrependUOffsetTRelativeSlot(1, code_vec, 0)
    b.PrependUOffsetTRelativeSlot(2, subgraph_vec, 0)
    b.PrependUOffsetTRelativeSlot(3, description, 0)
    b.PrependUOffsetTRelativeSlot(4, buffer_vec, 0)
    model = b.EndObject()
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())


def to_tflite(
    network: Network,
    weights: Mapping[str, np.ndarray],
    *,
    dtype: str = "float32",
    representative: np.ndarray | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    softmax: bool = False,
) -> tuple[bytes, QuantizedGraph | None]:
    """The ``.tflite`` bytes of ``network`` (and, for int8, the quantised graph they were written from).

    See :func:`export_tflite` for the parameters.
    """
    if not one_of(dtype, DTYPES):
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    softmax = boolean(softmax, "softmax", InputError)
    if softmax and dtype != "float32":
        raise InputError("softmax=True is for dtype='float32' only (the int8 file outputs its int8 logits)")
    graph = lower(network, weights, softmax=softmax)
    if dtype == "float32":
        if representative is not None or ranges is not None:
            raise InputError("representative images and ranges are for dtype='int8' only")
        return tflite_bytes(graph), None
    if (representative is None) == (ranges is None):
        raise InputError("an int8 export needs either representative images or activation ranges (not both)")
    if ranges is None:
        ranges = activation_ranges(network, weights, representative)  # type: ignore[arg-type]
    q = quantize(graph, ranges)
    return tflite_bytes(graph, q), q


def export_tflite(
    network: Network,
    weights: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    *,
    dtype: str = "float32",
    representative: np.ndarray | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    softmax: bool = False,
) -> Path:
    """Write ``network`` with ``weights`` as a ``.tflite`` file (atomically) and return its path.

    Parameters
    ----------
    network, weights
        As for :func:`~costmodel.reference.forward`.
    path : path-like
        The file to write.
    dtype : {"float32", "int8"}
        int8 follows TFLite's quantisation specification (see :mod:`costmodel.reference.tflite_graph`); its
        input and output tensors are int8.
    representative : ndarray, shape (N, R, R, C), optional
        int8: preprocessed images whose per-tensor (min, max) set the activation ranges.
    ranges : mapping, optional
        int8: ``{tensor name: (min, max)}`` instead of images (:func:`~.tflite_graph.activation_ranges`' form).
    softmax : bool
        float32: keep the network's final softmax (a ``SOFTMAX`` operator; the output is the probabilities).
        By default the file outputs the logits, as :func:`~costmodel.reference.forward` returns them.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from costmodel import mobilenet_v1
    >>> from costmodel.reference import init_weights
    >>> from costmodel.reference.images import random_image
    >>> net = mobilenet_v1(0.25, 32, num_classes=10)
    >>> w = init_weights(net)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = export_tflite(net, w, pathlib.Path(d) / "m.tflite", dtype="int8", representative=random_image(32))
    ...     p.read_bytes()[4:8]
    b'TFL3'
    """
    data, _ = to_tflite(network, weights, dtype=dtype, representative=representative, ranges=ranges, softmax=softmax)

    def write(f: BinaryIO) -> None:
        f.write(data)

    return atomic_write(path, write, CostModelError)

"""Weight files in each framework's layout: read into our keys, written from them, the flavour told by the layout.

Our weights are a flat ``{"<layer>/<variable>": float32 array}`` (:mod:`costmodel.reference.weights`). A file
in another layout is read in two steps, so that every array's declared shape and dtype are known before its
data is read (:class:`Entry`): the layout's reader lists the entries under our keys, then :func:`read_entries`
reads them (the one place where data is read: a size limit per array belongs there). Which layout a file has
is told by its first bytes and its structure, never by its name:

==================  ===============================================================================================
``npz``             ours (``reference.save_weights``); a ``__costmodel__`` entry records flavour, α and resolution.
``keras2-h5``       Keras 2 ``save_weights`` / ``model.save`` HDF5 (``mobilenet_1_0_224_tf.h5``): one group per layer,
                    attribute ``weight_names`` (``conv_dw_1/depthwise_kernel:0``); a whole model nests them under
                    ``model_weights``. (``keras/src/legacy/saving/legacy_h5_format.py``)
``keras3-legacy``   the same layout written by Keras 3's legacy HDF5 writer: ``keras_version`` 3.x, variables named by
                    ``Variable.path`` without ``:0``, and the depthwise kernel called ``kernel``.
``keras3``          Keras 3 ``.weights.h5`` (``keras/src/saving/saving_lib.py``, ``_save_state``): ``layers/<class
                    name in snake case>[_k]/vars/<i>``, the variables of a layer numbered in creation order
                    (batch norm: gamma, beta, moving mean, moving variance); newer Keras writes the layer's name
                    as the ``name`` attribute of its ``vars`` group, older files are matched by position.
``timm``            timm / PyTorch ``.safetensors`` of ``mobilenetv1_100`` (``timm/models/efficientnet.py``
                    ``_gen_mobilenet_v1``): ``conv_stem``, ``bn1``, ``blocks.<stage>.<i>.conv_dw / bn1 / conv_pw /
                    bn2``, ``classifier``; kernels OIHW (we store HWIO); batch norm ``weight``, ``bias``,
                    ``running_mean``, ``running_var`` and a ``num_batches_tracked`` counter, which we do not keep.
==================  ===============================================================================================

Keras layouts imply the ``keras`` flavour, timm's the ``timm`` flavour, unless the file was written by costmodel,
which records the flavour it was written for (an attribute, or safetensors metadata, that the frameworks
ignore). What a layout cannot hold is named
(:attr:`WeightFile.notes` when reading, the return value of :func:`write_weights` when writing), never dropped
silently.

A weight file is read only from itself. HDF5 can keep a dataset's bytes in external raw files, link to an
object of another file or map one (virtual datasets), and load filter plugins: every link of an HDF5 file is
walked without following it before any data is read, and each of those is refused, naming the link or dataset
(:func:`_confine_h5`). An ``.npz`` (a zip of ``.npy`` members, ``allow_pickle=False``) and a ``.safetensors``
file (one JSON header of offsets into the file's own data) have no way to point elsewhere; a format added
later that can (ONNX external data) must refuse it the same way.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import singledispatch
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write, check_input
from .._limits import limit_bytes
from ..checks import load_json
from ..errors import WeightsError
from ..spec.layers import Conv2d, GlobalAvgPool, Linear, Softmax
from ..spec.mobilenet import BLOCKS, FIRST_CONV
from ..spec.network import Network
from .limits import check_declared_bytes, check_npz

__all__ = [
    "FORMATS",
    "Entry",
    "WeightFile",
    "read_weight_file",
    "read_entries",
    "write_weights",
    "infer_alpha",
    "infer_variant",
    "keras_file_name",
]

#: What :func:`write_weights` writes: ours, Keras 2 HDF5 (``.h5``), Keras 3 ``.weights.h5``, timm safetensors.
FORMATS = ("npz", "keras", "keras3", "safetensors")

_NPZ_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_META_KEY = "__costmodel__"
_BN_VARS = ("gamma", "beta", "moving_mean", "moving_variance")
_FLOAT_KINDS = ("f",)


@dataclass(frozen=True, slots=True)
class Entry:
    """One array of a weight file, before its data is read: our key, the declared shape and dtype, and how to
    read it (already in our layout: HWIO kernels, (M, N) dense kernels)."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    read: Callable[[], np.ndarray]
    source: str  # the name in the file, for messages


@dataclass
class WeightFile:
    """What a weight file holds, read without a network."""

    path: Path
    format: str  # "npz", "keras2-h5", "keras3-legacy", "keras3", "timm"
    flavour: str | None  # the flavour its layout implies (None: ours, unless recorded)
    arrays: dict[str, np.ndarray]
    alpha: float | None = None  # from names in the file (metadata, Keras' file or model name), not shapes
    resolution: int | None = None
    notes: list[str] = field(default_factory=list)  # what the file held that is not kept, by name


#: Copies of a file's arrays held at once while reading it (the arrays kept, and a transposed copy of one being
#: read) and while converting it (also the target layout's transposed arrays and its serialised bytes).
READ_COPIES = 2
CONVERT_COPIES = 4


def read_entries(
    entries: list[Entry], path: Path, limit: int | None = None, copies: int = READ_COPIES
) -> dict[str, np.ndarray]:
    """Read every entry's data (after checking that no two map to one key, each is floating point, and
    ``copies`` copies of all of them fit the memory ``limit``)."""
    out: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    declared = sum(math.prod(e.shape) * e.dtype.itemsize for e in entries)
    check_declared_bytes(repr(str(path)), declared, limit, copies)
    for e in entries:
        if e.key in sources:
            raise WeightsError(f"{str(path)!r}: {sources[e.key]!r} and {e.source!r} both map to weight {e.key!r}")
        sources[e.key] = e.source
        if e.dtype.kind not in _FLOAT_KINDS:
            raise WeightsError(f"{str(path)!r}: {e.source!r} has dtype {e.dtype}, expected floating point")
    for e in entries:
        value = np.asarray(e.read())
        if value.shape != e.shape:  # a reader's transform must keep the declared (transformed) shape
            raise WeightsError(f"{str(path)!r}: {e.source!r} declared shape {e.shape}, read {value.shape}")
        out[e.key] = value
    return out


# --- reading ---------------------------------------------------------------------------------------------------


def read_weight_file(
    path: str | os.PathLike[str], *, memory_limit: int | str | None = None, copies: int = READ_COPIES
) -> WeightFile:
    """Read any supported weight file into our keys, unvalidated; the layout from its bytes and structure.

    ``copies`` copies of the arrays the file declares must fit ``memory_limit`` (bytes or a size such as
    ``"16G"``; default :func:`~costmodel.reference.limits.memory_limit`), checked before any array is read."""
    limit = limit_bytes(memory_limit)
    path = check_input(path, "weights file", WeightsError)  # None, a folder, a FIFO: refused before opening
    try:
        with path.open("rb") as f:
            head = f.read(9)
    except FileNotFoundError:
        raise WeightsError(f"weights file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {str(path)!r}: {exc.strerror}") from None
    if head.startswith(_NPZ_MAGIC):
        return _read_npz(path, limit, copies)
    if head.startswith(_HDF5_MAGIC):
        return _read_h5(path, limit, copies)
    if len(head) == 9 and head[8:9] == b"{":  # safetensors: u64 little-endian header size, then a JSON header
        return _read_safetensors(path, limit, copies)
    raise WeightsError(f"{str(path)!r} is neither an .npz, an HDF5 (.h5) nor a .safetensors weights file")


def _npy_header(fh: Any) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """(shape, dtype) an .npy member declares, read from its header alone."""
    version = np.lib.format.read_magic(fh)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(fh)
    return tuple(shape), dtype


def _read_npz(path: Path, limit: int, copies: int) -> WeightFile:
    import zipfile

    meta: object = None
    check_npz(path, limit, copies)  # headers and declared sizes within limits, before any array is read
    try:
        with zipfile.ZipFile(path) as zf:
            entries = []
            for member in zf.namelist():
                key = member.removesuffix(".npy")
                with zf.open(member) as fh:
                    shape, dtype = _npy_header(fh)

                def read(member: str = member) -> np.ndarray:
                    with zf.open(member) as fh:
                        return np.lib.format.read_array(fh, allow_pickle=False)

                if key == _META_KEY:
                    meta = read()
                else:
                    entries.append(Entry(key, shape, dtype, read, key))
            arrays = read_entries(entries, path, limit, copies)
    except WeightsError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        raise WeightsError(f"{str(path)!r} is not a readable .npz weights file (truncated?): {exc}") from None
    info: object = {}
    if meta is not None:
        if not isinstance(meta, np.ndarray) or meta.shape != () or meta.dtype.kind != "U":
            raise WeightsError(f"{str(path)!r}: its {_META_KEY} entry must be one string of JSON")
        info = load_json(str(meta), f"{str(path)!r}: its {_META_KEY} entry", WeightsError)
        if not isinstance(info, dict):
            raise WeightsError(f"{str(path)!r}: its {_META_KEY} entry must be a JSON object, got {_short_repr(info)}")
    assert isinstance(info, dict)
    flavour, alpha, resolution = _recorded(path, info.get("flavour"), info.get("alpha"), info.get("resolution"))
    return WeightFile(path, "npz", flavour, arrays, alpha, resolution)


_KERAS_FILE = re.compile(r"mobilenet_(1_0|7_5|5_0|2_5)_(\d+)_tf(?:_no_top)?\.h5$")
_KERAS_ALPHA = {"1_0": 1.0, "7_5": 0.75, "5_0": 0.5, "2_5": 0.25}
_KERAS_MODEL = re.compile(r"mobilenet_(\d+\.\d+)_(\d+)$")  # Keras' model name, f"mobilenet_{alpha:0.2f}_{rows}"
_FROM_KERAS = {"conv_preds": "fc"}  # Keras layer names we spell differently
_TO_KERAS = {v: k for k, v in _FROM_KERAS.items()}


def keras_file_name(alpha: float, resolution: int) -> str:
    """The name Keras gives its ImageNet weights: ``mobilenet_<a>_<r>_tf.h5`` (α 1.0, 0.75, 0.5, 0.25 only).

    >>> keras_file_name(0.5, 160)
    'mobilenet_5_0_160_tf.h5'
    """
    text = {v: k for k, v in _KERAS_ALPHA.items()}.get(alpha)
    if text is None:
        raise WeightsError(f"Keras publishes weights for alpha 1.0, 0.75, 0.5, 0.25 only, got {alpha!r}")
    return f"mobilenet_{text}_{resolution}_tf.h5"


def _names_from(path: Path, model_name: str | None) -> tuple[float | None, int | None]:
    m = _KERAS_FILE.search(path.name)
    if m:
        return _KERAS_ALPHA[m.group(1)], int(m.group(2))
    m = _KERAS_MODEL.match(model_name or "")
    if m:
        return float(m.group(1)), int(m.group(2))
    return None, None


def _text(value: object, what: str = "an HDF5 attribute") -> str:
    """An HDF5 attribute or name as text; anything else (a number, an array) is a :class:`WeightsError`."""
    if isinstance(value, bytes):  # numpy.bytes_ too
        return value.decode("utf8")
    if isinstance(value, str):
        return str(value)
    raise WeightsError(f"{what} must be text, got {type(value).__name__} {_short_repr(value)}")


def _short_repr(value: object) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def _recorded(path: Path, flavour: object, alpha: object, resolution: object) -> tuple[Any, Any, Any]:
    """What a file records of its network (flavour, α, resolution), each None or of the right type and range;
    anything else is a :class:`WeightsError` naming the file and the field (a resolution of 0 is not 224)."""
    from ..checks import MAX_SIZE

    where = repr(str(path))
    if flavour is not None and (not isinstance(flavour, str) or not flavour):
        raise WeightsError(f"{where}: recorded flavour must be a name, got {_short_repr(flavour)}")
    if alpha is not None:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha <= 0:
            raise WeightsError(f"{where}: recorded alpha must be a finite number > 0, got {_short_repr(alpha)}")
        alpha = float(alpha)
    if resolution is not None and (
        isinstance(resolution, bool) or not isinstance(resolution, int) or not 1 <= resolution <= MAX_SIZE
    ):
        raise WeightsError(
            f"{where}: recorded resolution must be an integer in 1..{MAX_SIZE:,}, got {_short_repr(resolution)}"
        )
    return flavour, alpha, resolution


def _read_h5(path: Path, limit: int, copies: int) -> WeightFile:
    try:
        import h5py
    except ImportError:  # pragma: no cover - depends on the environment
        raise WeightsError("reading HDF5 (.h5) weights needs h5py: pip install 'costmodel[h5]'") from None
    try:
        with h5py.File(path, "r") as f:
            _confine_h5(f, h5py, path)  # before any byte of data is read, and before any link is followed
            if isinstance(f.get("layers"), h5py.Group):
                fmt, entries, notes, model_name = _keras3_entries(f, h5py)
            else:
                fmt, entries, notes, model_name = _keras_legacy_entries(f, h5py)
            arrays = read_entries(entries, path, limit, copies)
            meta = _read_meta(f.attrs)
    except WeightsError as exc:
        if str(path) in str(exc):
            raise
        raise WeightsError(f"{str(path)!r}: {exc}") from None
    except (OSError, TypeError, ValueError, KeyError, AttributeError, RuntimeError) as exc:  # odd structures
        raise WeightsError(f"{str(path)!r} is not a readable HDF5 weights file (truncated?): {exc}") from None
    alpha, resolution = _names_from(path, model_name)
    if meta[1] is not None or meta[2] is not None:  # written by costmodel: α and resolution recorded
        alpha, resolution = meta[1], meta[2]
    flavour, alpha, resolution = _recorded(path, meta[0], alpha, resolution)
    return WeightFile(path, fmt, flavour or "keras", arrays, alpha, resolution, notes)


#: HDF5 filters a weight file may use: HDF5's own (deflate, shuffle, fletcher32, szip, n-bit, scale-offset) and
#: h5py's built-in LZF. Any other filter would make HDF5 look for a plugin library to load.
_H5_FILTERS = frozenset({1, 2, 3, 4, 5, 6, 32000})
#: Most links walked in an HDF5 weight file (MobileNetV1's Keras file has about 300).
MAX_H5_LINKS = 100_000


def _confine_h5(f: Any, h5py: Any, path: Path) -> None:
    """A weight file is read only from itself: walk every link of ``f`` without following any, and refuse an
    external link, a user-defined link, a dataset whose data lives in external raw files (HDF5 external
    storage), a virtual dataset (data mapped from other files) and a filter that HDF5 would load as a plugin,
    naming the link or dataset. Soft links stay: they name a path in this file, every link of which is walked
    here (an external link anywhere is refused, so no soft link can lead out of the file)."""
    source = repr(str(path))
    seen: set[int] = set()
    stack = [f]
    links = 0
    while stack:
        group = stack.pop()
        for name in group:
            links += 1
            if links > MAX_H5_LINKS:
                raise WeightsError(f"{source} holds more than {MAX_H5_LINKS:,} HDF5 links; not a weight file")
            where = f"{group.name.rstrip('/')}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise WeightsError(
                    f"{source}: {where!r} is an external link to {link.filename!r}:{link.path!r}; a weight file is "
                    "read only from itself"
                )
            if isinstance(link, h5py.SoftLink):
                continue  # a path inside this file: its target is walked through its hard link
            if not isinstance(link, h5py.HardLink):
                raise WeightsError(f"{source}: {where!r} is a {type(link).__name__}; only hard and soft links are read")
            obj = group[name]
            key = hash(obj.id)  # h5py hashes an object by its file and address: a group linked twice is walked once
            if key in seen:
                continue
            seen.add(key)
            if isinstance(obj, h5py.Group):
                stack.append(obj)
            elif isinstance(obj, h5py.Dataset):
                _confine_dataset(obj, where, source)


def _confine_dataset(ds: Any, where: str, source: str) -> None:
    plist = ds.id.get_create_plist()
    if ds.is_virtual:
        files = sorted({m.file_name for m in ds.virtual_sources()})
        raise WeightsError(
            f"{source}: dataset {where!r} is a virtual dataset mapping data from {', '.join(map(repr, files))}; a "
            "weight file is read only from itself"
        )
    if plist.get_external_count():
        files = [_text(plist.get_external(i)[0]) for i in range(min(plist.get_external_count(), 3))]
        raise WeightsError(
            f"{source}: dataset {where!r} keeps its data in external file(s) {', '.join(map(repr, files))}; a "
            "weight file is read only from itself"
        )
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in _H5_FILTERS:
            raise WeightsError(
                f"{source}: dataset {where!r} uses HDF5 filter {code}, which HDF5 would load as a plugin; refused"
            )


def _h5_entry(key: str, ds, transform: Callable[[np.ndarray], np.ndarray] | None = None, shape=None) -> Entry:
    def read() -> np.ndarray:
        value = np.asarray(ds[()])
        return transform(value) if transform else value

    return Entry(key, tuple(shape if shape is not None else ds.shape), ds.dtype, read, ds.name)


def _keras_var(layer: str, var: str, shape: tuple[int, ...]) -> str:
    """Our variable name for a Keras one: Keras 3 calls a depthwise kernel ``kernel``."""
    if var == "kernel" and layer.startswith("conv_dw_") and len(shape) == 4 and shape[3] == 1:
        return "depthwise_kernel"
    return var


def _keras_legacy_entries(f, h5py) -> tuple[str, list[Entry], list[str], str | None]:
    """Keras 2 files, and Keras 3's legacy HDF5 writer: a group per layer, datasets listed in ``weight_names``."""
    root = f["model_weights"] if isinstance(f.get("model_weights"), h5py.Group) else f
    version = _text(root.attrs.get("keras_version", f.attrs.get("keras_version", "")))
    fmt = "keras3-legacy" if version.startswith("3") else "keras2-h5"
    notes = [f"ignored: {name} (not weights)" for name in f if name not in ("model_weights",) and root is not f]
    model_name = None
    config = f.attrs.get("model_config")
    if config is not None:
        try:
            model_name = load_json(_text(config, "model_config"), "model_config", WeightsError)["config"]["name"]
        except (TypeError, KeyError):  # not Keras' {"config": {"name": ...}}: no name to read
            model_name = None
        if not isinstance(model_name, str):
            model_name = None
    entries: list[Entry] = []
    for group_name, group in root.items():
        if not isinstance(group, h5py.Group):
            continue
        names = [_text(n) for n in group.attrs.get("weight_names", [])]
        datasets: list[tuple[str, Any]] = []
        if names:
            for n in names:
                ds = group.get(n)
                if not isinstance(ds, h5py.Dataset):
                    raise WeightsError(f"{group.name}: weight_names lists {n!r}, which the file does not hold")
                datasets.append((n, ds))
        else:
            found = datasets  # bound now: the visitor runs inside this iteration
            group.visititems(lambda n, o, found=found: found.append((n, o)) if isinstance(o, h5py.Dataset) else None)
        layer = _FROM_KERAS.get(group_name, group_name)
        for n, ds in datasets:
            var = _keras_var(group_name, n.rsplit("/", 1)[-1].split(":", 1)[0], ds.shape)
            entries.append(_h5_entry(f"{layer}/{var}", ds))
    return fmt, entries, notes, model_name


_KERAS3_VARS = {
    "conv2d": ("kernel", "bias"),
    "depthwise_conv2d": ("depthwise_kernel", "bias"),
    "batch_normalization": _BN_VARS,
    "dense": ("kernel", "bias"),
}


def _keras3_position(cls: str, k: int) -> str | None:
    """The Keras MobileNet layer of the k-th layer of a class, for files that do not record layer names."""
    if cls == "conv2d":
        return "conv1" if k == 0 else f"conv_pw_{k}" if k <= len(BLOCKS) else "conv_preds" if k == 14 else None
    if cls == "depthwise_conv2d":
        return f"conv_dw_{k + 1}" if k < len(BLOCKS) else None
    if cls == "batch_normalization":
        if k == 0:
            return "conv1_bn"
        block = (k + 1) // 2
        return (f"conv_dw_{block}_bn" if k % 2 else f"conv_pw_{block}_bn") if block <= len(BLOCKS) else None
    return None


def _keras3_entries(f, h5py) -> tuple[str, list[Entry], list[str], str | None]:
    """Keras 3 ``.weights.h5``: ``layers/<class>[_k]/vars/<i>``."""
    root_vars = f.get("vars")
    has_name = isinstance(root_vars, h5py.Group) and "name" in root_vars.attrs
    model_name = _text(root_vars.attrs["name"], "vars/name") if has_name else None
    notes = [f"ignored: {name} (not layer weights)" for name in f if name not in ("layers", "vars")]
    entries: list[Entry] = []
    for group_name, group in f["layers"].items():
        variables = group.get("vars") if isinstance(group, h5py.Group) else None
        if variables is None or len(variables) == 0:
            continue
        m = re.fullmatch(r"([a-z0-9_]+?)(?:_(\d+))?", group_name)
        cls, k = (m.group(1), int(m.group(2) or 0)) if m else (group_name, 0)
        if cls not in _KERAS3_VARS:
            raise WeightsError(f"{group.name}: a {cls!r} layer with weights; MobileNetV1 has none")
        name = _text(variables.attrs["name"]) if "name" in variables.attrs else _keras3_position(cls, k)
        if name is None:
            raise WeightsError(f"{group.name}: no layer name recorded and no MobileNetV1 layer at this position")
        var_names = _KERAS3_VARS[cls]
        if cls == "batch_normalization" and len(variables) == 3:
            var_names = _BN_VARS[1:]  # BatchNormalization(scale=False): no gamma
        if len(variables) > len(var_names):
            raise WeightsError(f"{group.name}: {len(variables)} variables, a {cls} layer has at most {len(var_names)}")
        layer = _FROM_KERAS.get(name, name)
        for i in range(len(variables)):
            ds = variables.get(str(i))
            if not isinstance(ds, h5py.Dataset):
                raise WeightsError(f"{group.name}/vars: variable {i} missing")
            entries.append(_h5_entry(f"{layer}/{var_names[i]}", ds))
    return "keras3", entries, notes, model_name


# timm: blocks.<stage>.<i> of stages of 1, 2, 2, 6, 2 blocks are our blocks 1-13.
_TIMM_STAGES = (1, 2, 2, 6, 2)
_TIMM_BN = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
_OIHW_TO_HWIO = (2, 3, 1, 0)
_DW_TO_HWC1 = (2, 3, 0, 1)  # (C, 1, K, K) -> (K, K, C, 1)


def _timm_block(stage: int, index: int) -> int:
    return 1 + sum(_TIMM_STAGES[:stage]) + index


def _block_of(number: int) -> tuple[int, int]:
    for stage, size in enumerate(_TIMM_STAGES):
        if number <= size:
            return stage, number - 1
        number -= size
    raise WeightsError("block number out of range")  # pragma: no cover - callers check


def _from_timm(name: str, shape: tuple[int, ...]) -> tuple[str, tuple[int, ...] | None] | None:
    """(our key, axes permutation or None) for a timm key; None for keys we do not keep."""
    if name.endswith(".num_batches_tracked"):
        return None
    if name == "conv_stem.weight":
        return "conv1/kernel", _OIHW_TO_HWIO
    if name == "classifier.weight":
        return "fc/kernel", (1, 0)
    if name == "classifier.bias":
        return "fc/bias", None
    m = re.fullmatch(r"bn1\.(\w+)", name)
    if m and m.group(1) in _TIMM_BN:
        return f"conv1_bn/{_TIMM_BN[m.group(1)]}", None
    m = re.fullmatch(r"blocks\.(\d+)\.(\d+)\.(conv_dw|conv_pw|bn1|bn2)\.(\w+)", name)
    if m and int(m.group(1)) < len(_TIMM_STAGES) and int(m.group(2)) < _TIMM_STAGES[int(m.group(1))]:
        block = _timm_block(int(m.group(1)), int(m.group(2)))
        part, var = m.group(3), m.group(4)
        if part == "conv_dw" and var == "weight":
            return f"conv_dw_{block}/depthwise_kernel", _DW_TO_HWC1
        if part == "conv_pw" and var == "weight":
            return f"conv_pw_{block}/kernel", _OIHW_TO_HWIO
        if part in ("bn1", "bn2") and var in _TIMM_BN:
            return f"conv_{'dw' if part == 'bn1' else 'pw'}_{block}_bn/{_TIMM_BN[var]}", None
    raise WeightsError(f"timm key {name!r} (shape {shape}) is not part of mobilenetv1_100")


def _timm_key(key: str) -> tuple[str, tuple[int, ...] | None]:
    """The timm key of one of ours, and the axes permutation from our layout to timm's."""
    layer, var = key.rsplit("/", 1)
    inverse = {v: k for k, v in _TIMM_BN.items()}
    if layer == "conv1":
        return "conv_stem.weight", (3, 2, 0, 1)
    if layer == "conv1_bn":
        return f"bn1.{inverse[var]}", None
    if layer == "fc":
        return (f"classifier.{'weight' if var == 'kernel' else 'bias'}", (1, 0) if var == "kernel" else None)
    m = re.fullmatch(r"conv_(dw|pw)_(\d+)(_bn)?", layer)
    if m and 1 <= int(m.group(2)) <= len(BLOCKS):
        stage, index = _block_of(int(m.group(2)))
        prefix = f"blocks.{stage}.{index}"
        if m.group(3):
            return f"{prefix}.{'bn1' if m.group(1) == 'dw' else 'bn2'}.{inverse[var]}", None
        if m.group(1) == "dw":
            return f"{prefix}.conv_dw.weight", (2, 3, 0, 1)
        return f"{prefix}.conv_pw.weight", (3, 2, 0, 1)
    raise WeightsError(f"weight {key!r} has no place in timm's mobilenetv1_100 layout")


def _read_safetensors(path: Path, limit: int, copies: int) -> WeightFile:
    try:
        from safetensors import SafetensorError, safe_open
    except ImportError:  # pragma: no cover - depends on the environment
        raise WeightsError(
            "reading .safetensors weights needs safetensors: pip install 'costmodel[safetensors]'"
        ) from None
    notes: list[str] = []
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            entries = []
            ignored = []
            for name in f.keys():  # noqa: SIM118 - a safetensors handle, not a dict
                sl = f.get_slice(name)
                shape = tuple(sl.get_shape())
                mapped = _from_timm(name, shape)
                if mapped is None:
                    ignored.append(name)
                    continue
                key, perm = mapped
                dtype = _ST_DTYPES.get(sl.get_dtype())
                if dtype is None:
                    raise WeightsError(f"{str(path)!r}: {name!r} has dtype {sl.get_dtype()}, expected floating point")

                def read(name=name, perm=perm) -> np.ndarray:
                    value = f.get_tensor(name)
                    return np.ascontiguousarray(value.transpose(perm)) if perm else value

                declared = tuple(shape[i] for i in perm) if perm else shape
                entries.append(Entry(key, declared, dtype, read, name))
            arrays = read_entries(entries, path, limit, copies)
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{str(path)!r} is not a readable .safetensors file (truncated?): {exc}") from None
    if ignored:
        notes.append(f"ignored: {len(ignored)} num_batches_tracked counters (training state, e.g. {ignored[0]!r})")
    flavour, alpha, resolution = _recorded(
        path,
        meta.get("costmodel_flavour", "timm"),
        _number_or_none(meta.get("costmodel_alpha"), float, f"{str(path)!r}: recorded costmodel_alpha"),
        _number_or_none(meta.get("costmodel_resolution"), int, f"{str(path)!r}: recorded costmodel_resolution"),
    )
    return WeightFile(path, "timm", flavour, arrays, alpha, resolution, notes)


_ST_DTYPES: dict[str, np.dtype[Any]] = {
    "F32": np.dtype("float32"),
    "F16": np.dtype("float16"),
    "F64": np.dtype("float64"),
}


def _number_or_none(text: str | None, kind: type, what: str) -> Any:
    """A number costmodel recorded as text (``kind(text)``), None if not recorded; unreadable text is an error."""
    if text is None:
        return None
    try:
        if len(text) <= 40:
            return kind(text)
    except (ValueError, TypeError):
        pass
    raise WeightsError(f"{what} must be a {kind.__name__} written as text, got {_short_repr(text)}")


# --- α from shapes -------------------------------------------------------------------------------------------


def infer_variant(arrays: Mapping[str, np.ndarray]) -> dict[str, bool]:
    """``shallow`` and ``separable`` of the MobileNetV1 whose weights ``arrays`` are (Table 4's Conv MobileNet has
    ``conv_full_<i>`` layers, Table 5's Shallow MobileNet no block 7).

    >>> infer_variant({"conv_full_1/kernel": None, "conv_full_7/kernel": None})
    {'shallow': False, 'separable': False}
    """
    separable = "conv_full_1/kernel" not in arrays
    seventh = "conv_dw_7/depthwise_kernel" if separable else "conv_full_7/kernel"
    return {"shallow": seventh not in arrays, "separable": separable}


def infer_alpha(arrays: Mapping[str, np.ndarray]) -> float:
    """The width multiplier whose ``int(c * α)`` channel counts match every convolution in ``arrays``.

    Tries the published 1.0, 0.75, 0.5, 0.25 first, then ``channels(conv_pw_13) / 1024``.
    """
    from ..spec.mobilenet import scale_channels

    want: dict[int, int] = {}  # channels at α = 1 -> channels found
    kernel = arrays.get("conv1/kernel")
    if kernel is not None and np.ndim(kernel) == 4:
        want[FIRST_CONV] = kernel.shape[3]
    for i, (_, out) in enumerate(BLOCKS, start=1):
        k = arrays.get(f"conv_pw_{i}/kernel", arrays.get(f"conv_full_{i}/kernel"))  # Conv MobileNet: conv_full
        if k is not None and np.ndim(k) == 4:
            if out in want and want[out] != k.shape[3]:
                raise WeightsError(
                    f"conv_pw_{i}/kernel has {k.shape[3]} channels; another layer of {out} has {want[out]}"
                )
            want[out] = k.shape[3]
    if not want:
        raise WeightsError("no MobileNetV1 convolution kernel in the file to read alpha from")
    top = max(want)
    candidates = [1.0, 0.75, 0.5, 0.25, want[top] / top]
    for alpha in candidates:
        try:
            if all(scale_channels(c, alpha) == n for c, n in want.items()):
                return alpha
        except Exception:  # noqa: BLE001 - a candidate too small to build: not this one
            continue
    raise WeightsError(f"no width multiplier alpha gives these channel counts: {sorted(want.values())}")


# --- writing -------------------------------------------------------------------------------------------------


def write_weights(
    network: Network, weights: Mapping[str, np.ndarray], path: str | os.PathLike[str], format: str
) -> list[str]:
    """Write validated ``weights`` of ``network`` to ``path`` in ``format``; returns what the layout cannot hold
    (each named: a batch norm without gamma written with gamma = 1, ...)."""
    if not isinstance(format, str) or format not in FORMATS:
        raise WeightsError(f"weights format must be one of {FORMATS}, got {format!r}")
    check_writer(format)
    notes: list[str] = []
    config = network.config or {}
    if format == "npz":
        meta = json.dumps({k: config.get(k) for k in ("flavour", "alpha", "resolution")})
        arrays: dict[str, Any] = {**dict(weights), _META_KEY: np.array(meta)}
        atomic_write(path, lambda f: np.savez(f, **arrays), WeightsError)
        return notes
    layers = _weight_layers(network, weights, notes)
    if format == "keras":
        atomic_write(path, lambda f: _write_keras2(f, network, layers), WeightsError)
    elif format == "keras3":
        atomic_write(path, lambda f: _write_keras3(f, network, layers), WeightsError)
    else:
        _write_timm(path, network, layers, notes)
    return notes


def check_writer(format: str) -> None:
    """Refuse a ``format`` whose writer needs a package that is not installed, naming what to install (before a
    source is read or anything written)."""
    needs = {"keras": ("h5py", "h5"), "keras3": ("h5py", "h5"), "safetensors": ("safetensors", "safetensors")}
    if format in needs:
        module, extra = needs[format]
        try:
            __import__(module)
        except ImportError:  # not installed, or sys.modules[module] = None
            raise WeightsError(f"writing {format} weights needs {module}: pip install 'costmodel[{extra}]'") from None


@singledispatch
def keras_groups(layer: object, weights: Mapping[str, np.ndarray], no_gamma: list[str]) -> list[tuple[Any, ...]]:
    """A layer's arrays as Keras groups them: [(keras class, group name, [(variable, array)])]; one rule per
    layer type (a batch norm without gamma gets gamma = 1, its layer named in ``no_gamma``)."""
    raise WeightsError(f"{getattr(layer, 'name', layer)}: no Keras layout for layer type {type(layer).__name__}")


@keras_groups.register
def _(layer: Conv2d, weights: Mapping[str, np.ndarray], no_gamma: list[str]) -> list[tuple[Any, ...]]:
    var = "depthwise_kernel" if layer.depthwise else "kernel"
    conv = [(var, weights[f"{layer.name}/{var}"])]
    if layer.bias:
        conv.append(("bias", weights[f"{layer.name}/bias"]))
    groups: list[tuple[Any, ...]] = [("depthwise_conv2d" if layer.depthwise else "conv2d", layer.name, conv)]
    if layer.batch_norm:
        bn = []
        for v in _BN_VARS:
            key = f"{layer.name}_bn/{v}"
            if key in weights:
                bn.append((v, weights[key]))
            elif v == "gamma":
                no_gamma.append(layer.name)
                bn.append((v, np.ones(layer.out_ch, np.float32)))
        groups.append(("batch_normalization", f"{layer.name}_bn", bn))
    return groups


@keras_groups.register
def _(layer: Linear, weights: Mapping[str, np.ndarray], no_gamma: list[str]) -> list[tuple[Any, ...]]:
    kernel = weights[f"{layer.name}/kernel"]  # Keras' conv_preds: a 1x1 convolution
    conv = [("kernel", kernel.reshape(1, 1, *kernel.shape))]
    if layer.bias:
        conv.append(("bias", weights[f"{layer.name}/bias"]))
    return [("conv2d", layer.name, conv)]


@keras_groups.register(GlobalAvgPool)
@keras_groups.register(Softmax)
def _(layer: object, weights: Mapping[str, np.ndarray], no_gamma: list[str]) -> list[tuple[Any, ...]]:
    return []  # no weights


def _weight_layers(network: Network, weights: Mapping[str, np.ndarray], notes: list[str]) -> list[tuple[Any, ...]]:
    """[(keras class, layer name, [(variable, array)])] in network order, the classifier as Keras' conv_preds
    (a (1, 1, M, N) kernel), a batch norm without gamma given gamma = 1 (named in ``notes``). Keras' and timm's
    MobileNetV1 files hold MobileNetV1's layer types; any other type is an error naming it."""
    out: list[tuple[Any, ...]] = []
    no_gamma: list[str] = []
    for node in network.nodes:
        out += keras_groups(node.layer, weights, no_gamma)
    if no_gamma:
        notes.append(f"batch norm without gamma written with gamma = 1 (exact) at {len(no_gamma)} layers")
    return out


def _write_keras2(f, network: Network, layers) -> None:
    import h5py

    with h5py.File(f, "w") as h:
        names = [_TO_KERAS.get(name, name) for _, name, _ in layers]
        h.attrs["layer_names"] = [n.encode("utf8") for n in names]
        h.attrs["backend"] = b"tensorflow"
        h.attrs["keras_version"] = b"2"
        _write_meta(h.attrs, network)
        for name, (_, _, variables) in zip(names, layers, strict=True):
            g = h.create_group(name)
            weight_names = [f"{name}/{var}:0" for var, _ in variables]
            g.attrs["weight_names"] = [n.encode("utf8") for n in weight_names]
            for wn, (_, value) in zip(weight_names, variables, strict=True):
                g.create_dataset(wn, data=value)


def _write_meta(attrs, network: Network) -> None:
    """What Keras' HDF5 layout has no place for, as attributes Keras ignores: who wrote it, the flavour, α and
    the resolution (read back by :func:`read_weight_file`)."""
    config = network.config or {}
    attrs["written_by"] = b"costmodel"
    for k in ("flavour", "alpha", "resolution"):
        if config.get(k) is not None:
            attrs[f"costmodel_{k}"] = str(config[k]).encode("utf8")


def _read_meta(attrs) -> tuple[str | None, float | None, int | None]:
    def get(k: str) -> str | None:
        return _text(attrs[f"costmodel_{k}"], f"costmodel_{k}") if f"costmodel_{k}" in attrs else None

    alpha = _number_or_none(get("alpha"), float, "recorded costmodel_alpha")
    return get("flavour"), alpha, _number_or_none(get("resolution"), int, "recorded costmodel_resolution")


def _write_keras3(f, network: Network, layers) -> None:
    import h5py

    config = network.config or {}
    counts: dict[str, int] = {}
    with h5py.File(f, "w") as h:
        root = h.create_group("vars")
        if "alpha" in config and "resolution" in config:
            root.attrs["name"] = f"mobilenet_{config['alpha']:0.2f}_{config['resolution']}"
        _write_meta(h.attrs, network)
        for cls, name, variables in layers:
            k = counts.get(cls, 0)
            counts[cls] = k + 1
            g = h.create_group(f"layers/{cls if k == 0 else f'{cls}_{k}'}/vars")
            g.attrs["name"] = _TO_KERAS.get(name, name)
            for i, (_, value) in enumerate(variables):
                g.create_dataset(str(i), data=value)


def _write_timm(path, network: Network, layers, notes: list[str]) -> None:
    try:
        from safetensors.numpy import save
    except ImportError:  # pragma: no cover - depends on the environment
        raise WeightsError(
            "writing .safetensors weights needs safetensors: pip install 'costmodel[safetensors]'"
        ) from None
    tensors: dict[str, np.ndarray] = {}
    for _, name, variables in layers:
        for var, value in variables:
            if name == "fc" and var == "kernel":
                value = value.reshape(value.shape[2:])  # conv_preds (1, 1, M, N) -> dense (M, N)
            key, perm = _timm_key(f"{name}/{var}")
            tensors[key] = np.ascontiguousarray(value.transpose(perm) if perm else value)
    config = network.config or {}
    meta = {"format": "pt"}
    for k in ("flavour", "alpha", "resolution"):
        if config.get(k) is not None:
            meta[f"costmodel_{k}"] = str(config[k])
    data = save(tensors, metadata=meta)
    atomic_write(path, lambda f: None if f.write(data) else None, WeightsError)

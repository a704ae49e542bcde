"""Resource limits of the reference implementation: refuse a run before it allocates, not after.

Three limits, each with a default, an environment variable and (for the memory limit) a command-line option:

==============================  ===============================  ======================================
limit                           default                          raise it with
==============================  ===============================  ======================================
memory a run may need           4 GiB                            ``--memory-limit 16G`` or
                                                                 ``COSTMODEL_MEMORY_LIMIT=16G``
pixels of an input image        40 million (e.g. 8000 x 5000)    ``COSTMODEL_MAX_IMAGE_PIXELS=100e6``
bytes of an input image file    100 MB                           ``COSTMODEL_MAX_IMAGE_BYTES=500e6``
==============================  ===============================  ======================================

The memory a run needs is estimated from the spec with the project's memory model
(:func:`costmodel.counting.memory.memory`), before any weight or image is allocated:
:func:`executor_bytes` for ``run`` and ``profile``, :func:`export_bytes` for ``export-onnx``. Both are upper
bounds on what NumPy allocates (measured: 1.3-1.6x the traced peak; ``tests/test_reference_limits.py``
checks the bound on real runs).

Weight files are checked against the spec before any array is read: every ``.npz`` member's header (name,
shape, dtype) and its declared uncompressed size, every HDF5 dataset's shape and dtype. So a small file that
claims (or inflates to) gigabytes is refused after reading a few hundred bytes.
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING

from ..errors import InputError, WeightsError

if TYPE_CHECKING:
    from ..spec import Network

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "MEMORY_LIMIT_VARIABLE",
    "DEFAULT_MAX_IMAGE_PIXELS",
    "DEFAULT_MAX_IMAGE_BYTES",
    "parse_bytes",
    "memory_limit",
    "check_memory",
    "executor_bytes",
    "export_bytes",
    "max_image_pixels",
    "max_image_bytes",
    "check_npz",
    "check_declared",
]

DEFAULT_MEMORY_LIMIT = 4 * 2**30
MEMORY_LIMIT_VARIABLE = "COSTMODEL_MEMORY_LIMIT"
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_PIXELS_VARIABLE = "COSTMODEL_MAX_IMAGE_PIXELS"
DEFAULT_MAX_IMAGE_BYTES = 100_000_000
MAX_IMAGE_BYTES_VARIABLE = "COSTMODEL_MAX_IMAGE_BYTES"

_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:e[0-9]+)?)\s*([kmgt]i?)?b?\s*$", re.IGNORECASE)


def parse_bytes(text: str, what: str = "a size") -> int:
    """A byte count from ``"4G"``, ``"512Mi"``, ``"1e9"`` or ``"4096"`` (k/M/G/T powers of 10, Ki/Mi/Gi/Ti of 2).

    >>> parse_bytes("4Gi"), parse_bytes("1.5G"), parse_bytes("2e9")
    (4294967296, 1500000000, 2000000000)
    """
    match = _SIZE.match(text) if isinstance(text, str) else None
    if match is None:
        raise InputError(f"{what} must be a positive number of bytes such as 4G, 512Mi or 1e9, got {text!r}")
    value = float(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    if not math.isfinite(value) or value < 1 or value > 2**62:
        raise InputError(f"{what} must be between 1 byte and 4 EiB, got {text!r}")
    return int(value)


def _from_env(variable: str, default: int) -> int:
    text = os.environ.get(variable)
    return default if text is None or not text.strip() else parse_bytes(text, f"${variable}")


def memory_limit(option: str | None = None) -> int:
    """The memory limit in bytes: the option's value, else ``$COSTMODEL_MEMORY_LIMIT``, else 4 GiB."""
    if option is not None:
        return parse_bytes(option, "--memory-limit")
    return _from_env(MEMORY_LIMIT_VARIABLE, DEFAULT_MEMORY_LIMIT)


def _size(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.1f} MiB"


def check_memory(needed: int, what: str, limit: int | None = None) -> None:
    """Raise :class:`InputError` when ``needed`` bytes exceed the limit (default: :func:`memory_limit`)."""
    limit = memory_limit() if limit is None else limit
    if needed > limit:
        raise InputError(
            f"{what} needs about {_size(needed)}, over the memory limit of {_size(limit)}; lower the batch, "
            f"alpha or resolution, or raise the limit (--memory-limit, ${MEMORY_LIMIT_VARIABLE})"
        )


def _im2col_elements(network: Network) -> int:
    """Largest im2col buffer of one image: K·K·M·D_F² of a dense convolution with a kernel above 1."""
    from ..spec.layers import Conv2d

    sizes = [
        n.layer.kernel**2 * n.in_ch * n.out_size**2
        for n in network.leaves()
        if isinstance(n.layer, Conv2d) and n.layer.groups == 1 and n.layer.kernel > 1
    ]
    return max(sizes, default=0)


def executor_bytes(network: Network, batch: int = 1) -> int:
    """Bytes the reference executor needs for ``batch`` images: an upper bound, from the memory model.

    float32 weights three times (as given, folded, and transposed for the matrix products), and per image
    every layer's input and output (buffers are kept per layer and reused across passes) plus the largest
    im2col buffer.

    >>> from costmodel import mobilenet_v1
    >>> executor_bytes(mobilenet_v1()) // 2**20, executor_bytes(mobilenet_v1(), batch=8) // 2**20
    (88, 371)
    """
    from ..counting.memory import memory

    m = memory(network)
    return 4 * (3 * m.weight_elements + batch * (m.traffic_elements + _im2col_elements(network)))


def export_bytes(network: Network) -> int:
    """Bytes ``export-onnx`` needs: seeded weights drawn in float64 (8 B), kept as float32 (4 B), copied into
    the ONNX graph (4 B) and serialised (4 B), plus batch-norm folding copies (4 B): 24 bytes per weight."""
    from ..counting.memory import memory

    return 24 * memory(network).weight_elements


def max_image_pixels() -> int:
    return _from_env(MAX_IMAGE_PIXELS_VARIABLE, DEFAULT_MAX_IMAGE_PIXELS)


def max_image_bytes() -> int:
    return _from_env(MAX_IMAGE_BYTES_VARIABLE, DEFAULT_MAX_IMAGE_BYTES)


def check_declared(
    source: str, key: str, shape: tuple[int, ...], dtype: object, expected: Mapping[str, tuple[int, ...]]
) -> None:
    """Refuse an array by what its file declares, before its data is read: unknown name, shape or dtype."""
    import numpy as np

    if key not in expected:
        raise WeightsError(f"{source}: unexpected weights: {key}")
    if tuple(shape) != tuple(expected[key]):
        raise WeightsError(f"{source}: {key}: expected shape {tuple(expected[key])}, found {tuple(shape)}")
    if np.dtype(dtype) != np.float32:  # type: ignore[call-overload]
        raise WeightsError(f"{source}: {key}: expected dtype float32, found {np.dtype(dtype)}")  # type: ignore


def _npy_header(f: IO[bytes]) -> tuple[tuple[int, ...], object]:
    from numpy.lib import format as npy

    version = npy.read_magic(f)
    reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, _fortran, dtype = reader(f)
    return shape, dtype


def check_npz(path: str | os.PathLike[str], expected: Mapping[str, tuple[int, ...]]) -> None:
    """Check an ``.npz`` file's members against ``expected`` (key -> shape) before reading any array.

    Reads only each member's zip entry and ``.npy`` header: the names, shapes and dtypes must be those
    expected, and each member's declared uncompressed size must be that of its header and data (so that
    a member that would inflate to more is refused unread; zipfile stops at the declared size).
    """
    source = repr(os.fspath(path))
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
            if len(members) > len(expected):
                raise WeightsError(f"{source}: {len(members)} arrays, but the network has {len(expected)} weights")
            for info in members:
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with z.open(info) as f:
                    shape, dtype = _npy_header(f)
                    header = f.tell() if f.seekable() else 0
                check_declared(source, key, shape, dtype, expected)
                data = 4 * math.prod(shape)
                if info.file_size > header + data + 4096:
                    raise WeightsError(
                        f"{source}: {key}: the member declares {info.file_size:,} bytes for {data:,} bytes of data"
                    )
    except WeightsError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        raise WeightsError(f"{source} is not a readable .npz weights file (truncated?): {exc}") from None

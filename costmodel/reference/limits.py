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

Weight files are checked before any array is read: the arrays a file declares (``.npz`` member headers and
their declared uncompressed sizes, HDF5 dataset shapes, safetensors headers) must fit the memory limit, so a
small file that claims (or would inflate to) gigabytes is refused after reading a few hundred bytes. Their
shapes are then checked against the network the file is loaded for.
"""

from __future__ import annotations

import math
import os
import zipfile
from typing import IO, TYPE_CHECKING, Any

from ..checks import parse_count
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
    "check_declared_bytes",
]

DEFAULT_MEMORY_LIMIT = 4 * 2**30
MEMORY_LIMIT_VARIABLE = "COSTMODEL_MEMORY_LIMIT"
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_PIXELS_VARIABLE = "COSTMODEL_MAX_IMAGE_PIXELS"
DEFAULT_MAX_IMAGE_BYTES = 100_000_000
MAX_IMAGE_BYTES_VARIABLE = "COSTMODEL_MAX_IMAGE_BYTES"


def parse_bytes(text: str, what: str = "a size") -> int:
    """A byte count from ``"4G"``, ``"512Mi"``, ``"1e9"`` or ``"4096"`` (k/M/G/T powers of 10, Ki/Mi/Gi/Ti of 2;
    a trailing ``B`` allowed): the one count parser, :func:`costmodel.checks.parse_count`, exact.

    >>> parse_bytes("4Gi"), parse_bytes("1.5G"), parse_bytes("2e9"), parse_bytes("512 MiB")
    (4294967296, 1500000000, 2000000000, 536870912)
    """
    stripped = text.strip() if isinstance(text, str) else ""
    if stripped[-1:] in ("b", "B"):
        stripped = stripped[:-1]
    try:
        value = parse_count(stripped, what, maximum=2**62, error=InputError)
    except InputError as exc:
        if "at most" in str(exc):
            raise InputError(f"{what} must be between 1 byte and 4 EiB, got {text!r}") from None
        if "whole number, got" in str(exc):
            raise
        raise InputError(f"{what} must be a positive number of bytes such as 4G, 512Mi or 1e9, got {text!r}") from None
    if value < 1:
        raise InputError(f"{what} must be between 1 byte and 4 EiB, got {text!r}")
    return value


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


def check_declared_bytes(source: str, nbytes: int, limit: int | None = None) -> None:
    """Refuse a weight file whose arrays declare more bytes than the memory limit, before reading them."""
    limit = memory_limit() if limit is None else limit
    if nbytes > limit:
        raise WeightsError(
            f"{source} declares {_size(nbytes)} of arrays, over the memory limit of {_size(limit)} (raise it with "
            f"--memory-limit or ${MEMORY_LIMIT_VARIABLE})"
        )


def _npy_header(f: IO[bytes]) -> tuple[tuple[int, ...], Any]:
    from numpy.lib import format as npy

    version = npy.read_magic(f)
    reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, _fortran, dtype = reader(f)
    return shape, dtype


#: Most arrays a weight file may hold (MobileNetV1 has 137; a network of 2,000 layers about 10,000).
MAX_WEIGHT_ARRAYS = 20_000


def check_npz(path: str | os.PathLike[str]) -> None:
    """Check an ``.npz`` file from its zip directory and ``.npy`` headers, before any array is read.

    All the arrays together must fit the memory limit, and every member's declared uncompressed size must be
    exactly that of its ``.npy`` header and data (zipfile stops at the declared size and checks the CRC, so a
    member cannot inflate to more than it declares).
    """
    import numpy as np

    source = repr(os.fspath(path))
    total = 0
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
            if len(members) > MAX_WEIGHT_ARRAYS:
                raise WeightsError(f"{source} holds {len(members):,} arrays; the limit is {MAX_WEIGHT_ARRAYS:,}")
            for info in members:
                with z.open(info) as f:
                    shape, dtype = _npy_header(f)
                    header = f.tell()
                data = math.prod(shape) * np.dtype(dtype).itemsize
                total += data
                check_declared_bytes(source, total)
                if info.file_size != header + data:
                    raise WeightsError(
                        f"{source}: member {info.filename!r} declares {info.file_size:,} bytes for "
                        f"{data:,} bytes of array data (truncated or padded)"
                    )
    except WeightsError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        raise WeightsError(f"{source} is not a readable .npz weights file (truncated?): {exc}") from None

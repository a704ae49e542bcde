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

from .._limits import (
    DEFAULT_MEMORY_LIMIT,
    MEMORY_LIMIT_VARIABLE,
    _parse_amount,
    _size,
    check_memory,
    memory_limit,
    parse_bytes,
    parse_pixels,
)
from ..errors import WeightsError

if TYPE_CHECKING:
    from ..spec import Network

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "MEMORY_LIMIT_VARIABLE",
    "DEFAULT_MAX_IMAGE_PIXELS",
    "DEFAULT_MAX_IMAGE_BYTES",
    "parse_bytes",
    "parse_pixels",
    "memory_limit",
    "check_memory",
    "executor_bytes",
    "export_bytes",
    "max_image_pixels",
    "max_image_bytes",
    "check_npz",
    "check_declared_bytes",
]

DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_PIXELS_VARIABLE = "COSTMODEL_MAX_IMAGE_PIXELS"
DEFAULT_MAX_IMAGE_BYTES = 100_000_000
MAX_IMAGE_BYTES_VARIABLE = "COSTMODEL_MAX_IMAGE_BYTES"


def _from_env(variable: str, default: int, unit: str = "bytes") -> int:
    text = os.environ.get(variable)
    return default if text is None or not text.strip() else _parse_amount(text, f"${variable}", unit)


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
    return _from_env(MAX_IMAGE_PIXELS_VARIABLE, DEFAULT_MAX_IMAGE_PIXELS, "pixels")


def max_image_bytes() -> int:
    return _from_env(MAX_IMAGE_BYTES_VARIABLE, DEFAULT_MAX_IMAGE_BYTES)


def check_declared_bytes(source: str, nbytes: int, limit: int | None = None, copies: int = 1) -> None:
    """Refuse a weight file whose arrays declare more bytes than the memory limit, before reading them;
    ``copies``: how many copies of them the caller holds at once (reading, transposing, writing them out)."""
    limit = memory_limit() if limit is None else limit
    if nbytes * copies > limit:
        held = f" once read ({copies} copies of them at once: {_size(nbytes * copies)})" if copies > 1 else ""
        raise WeightsError(
            f"{source} declares {_size(nbytes)} of arrays, over the memory limit of {_size(limit)}{held} (raise it "
            f"with --memory-limit or ${MEMORY_LIMIT_VARIABLE})"
        )


def _npy_header(f: IO[bytes]) -> tuple[tuple[int, ...], Any]:
    from numpy.lib import format as npy

    version = npy.read_magic(f)
    reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, _fortran, dtype = reader(f)
    return shape, dtype


#: Most arrays a weight file may hold (MobileNetV1 has 137; a network of 2,000 layers about 10,000).
MAX_WEIGHT_ARRAYS = 20_000


def check_npz(path: str | os.PathLike[str], limit: int | None = None, copies: int = 1) -> None:
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
                check_declared_bytes(source, total, limit, copies)
                if info.file_size != header + data:
                    raise WeightsError(
                        f"{source}: member {info.filename!r} declares {info.file_size:,} bytes for "
                        f"{data:,} bytes of array data (truncated or padded)"
                    )
    except WeightsError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        raise WeightsError(f"{source} is not a readable .npz weights file (truncated?): {exc}") from None

"""Writing files atomically: a temporary file in the target folder, renamed into place once complete.

Every file costmodel writes (tables, profiles, weights, ONNX models, figures) goes through :func:`atomic_write`,
so an error or an interrupt never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import CostModelError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[BinaryIO], None],
    error: type[CostModelError] = CostModelError,
) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``.

    Nothing is left on disk if ``write`` raises; an ``OSError`` becomes ``error`` naming the path. The file gets
    the permissions a plain ``open(path, "w")`` would give it (``mkstemp`` alone would make it private).
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise error(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise error(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

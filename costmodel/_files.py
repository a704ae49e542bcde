"""Writing files: checked first, then written atomically (a temporary file in the target folder, renamed).

Every file costmodel writes (tables, profiles, weights, ONNX models, figures) goes through :func:`atomic_write`
(or :func:`atomic_write_many` for a set of files), so an error, an interrupt or a SIGTERM never leaves a
half-written file or a stray temporary file behind. What is at the path decides how it is written:

- nothing, or a regular file: a temporary file is renamed over it; an existing file keeps its permissions
  (a new one gets what a plain ``open(path, "w")`` would give it);
- a regular file with other hard links: the complete new contents are copied into it, so every name keeps
  seeing the same file;
- a symbolic link: its target is written, as above; the link stays;
- anything else (a folder, a device such as ``/dev/null``, a FIFO, a socket): refused, before anything runs.

:func:`check_output` makes those checks (and that the folder exists and is writable) without writing
anything: commands call it on their ``--out`` before a long computation.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from .errors import CostModelError

__all__ = ["atomic_write", "atomic_write_many", "check_output", "check_folder", "check_input"]

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _as_path(path: object, error: type[CostModelError], what: str = "an output path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise error(f"{what} must be a string or path, got {path!r}")
    text = os.fspath(path)
    if not isinstance(text, str) or not text:
        raise error(f"{what} must be a non-empty string, got {text!r}")
    if "\0" in text:
        raise error(f"{what} {text!r} contains a NUL character")
    try:
        os.fsencode(text)
    except UnicodeError:
        raise error(f"{what} {text!r} cannot be encoded for this file system") from None
    return Path(text)


def _probe_folder(folder: Path, shown: str, error: type[CostModelError]) -> None:
    """Prove ``folder`` takes a new file (create and remove one): permissions, read-only mounts, root or not."""
    with _terminate_raises():
        try:
            fd, tmp = tempfile.mkstemp(prefix=".costmodel-probe.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise error(f"cannot write {shown!r}: folder {str(folder)!r}: {exc.strerror or exc}") from None
        os.close(fd)
        os.unlink(tmp)


def check_output(path: str | os.PathLike[str], error: type[CostModelError] = CostModelError) -> Path:
    """Check that ``path`` can be written, without writing it; return where the bytes will go.

    The returned path is ``path`` itself, or the final target when ``path`` is a symbolic link. Raises
    ``error`` (one line naming the path) when the folder does not exist or is not writable, or when something
    other than a regular file (a folder, a device, a FIFO, a socket) or a link to one is at the path.

    >>> check_output("/dev/null")
    Traceback (most recent call last):
    ...
    costmodel.errors.CostModelError: cannot write '/dev/null': it is a character device, not a regular file
    """
    given = _as_path(path, error)
    shown = str(given)
    target = given
    if given.is_symlink():
        target = Path(os.path.realpath(given))
        if target.is_symlink():
            raise error(f"cannot write {shown!r}: a symbolic link that loops")
    try:
        st = target.stat()
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise error(f"cannot write {shown!r}: {exc.strerror or exc}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        link = f" (a link to {str(target)!r})" if target != given else ""
        raise error(f"cannot write {shown!r}{link}: it is {_kind(st.st_mode)}, not a regular file")
    folder = target.parent
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise error(f"cannot write {shown!r}: folder {str(folder)!r} {what}")
    if st is not None and not os.access(target, os.W_OK):
        raise error(f"cannot write {shown!r}: the file is read-only")
    _probe_folder(folder, shown, error)
    return target


def check_input(
    path: object, what: str, error: type[CostModelError] = CostModelError, max_bytes: int | None = None
) -> Path:
    """Check that ``path`` is a regular file (or a link to one) that can be read, of at most ``max_bytes``.

    Called before a file is opened, so that a folder, a FIFO (whose reading would block), a device or a
    socket is refused with one line naming what it is, as is a file too large for its kind.
    """
    given = _as_path(path, error, f"the {what} path")
    shown = str(given)
    try:
        st = given.stat()
    except FileNotFoundError:
        dangling = " (a symbolic link to nothing)" if given.is_symlink() else ""
        raise error(f"{what} {shown!r} does not exist{dangling}") from None
    except OSError as exc:
        raise error(f"cannot read {what} {shown!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what} {shown!r} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {shown!r} is {_kind(st.st_mode)}, not a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise error(f"{what} {shown!r} is {st.st_size:,} bytes; the limit is {max_bytes:,}")
    if not os.access(given, os.R_OK):
        raise error(f"cannot read {what} {shown!r}: permission denied")
    return given


def check_folder(
    folder: str | os.PathLike[str], error: type[CostModelError] = CostModelError, create: bool = True
) -> Path:
    """Check that files can be written into ``folder`` (or, with ``create``, that it can be created).

    Nothing is created here: :func:`atomic_write_many` creates the folder when it writes. Raises ``error``
    when ``folder`` is a file, a device or a link to one, or when neither it nor its nearest existing parent
    is a writable folder.
    """
    given = _as_path(folder, error)
    shown = str(given)
    if given.exists() or given.is_symlink():
        if not given.is_dir():
            try:
                mode = given.stat().st_mode
            except OSError as exc:
                raise error(f"cannot write into {shown!r}: {exc.strerror or exc}") from None
            what = "a file" if stat.S_ISREG(mode) else _kind(mode)
            raise error(f"cannot write into {shown!r}: it is {what}, not a folder")
        _probe_folder(given, shown, error)
        return given
    if not create:
        raise error(f"cannot write into {shown!r}: folder does not exist")
    parent = given.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise error(f"cannot write into {shown!r}: {str(parent)!r} is a file, not a folder")
    _probe_folder(parent, shown, error)
    return given


@contextlib.contextmanager
def _terminate_raises() -> Iterator[None]:
    """While writing, SIGTERM and SIGHUP raise SystemExit (so the temporary file is removed), when nothing
    else handles them and this is the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
            previous[signum] = signal.signal(signum, _raise_exit)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


class _Pending:
    """One file being written: its temporary file, and how to put it in place."""

    def __init__(self, given: Path, target: Path, error: type[CostModelError]) -> None:
        self.given, self.target, self.error = given, target, error
        try:
            self.old: os.stat_result | None = target.stat()
        except (FileNotFoundError, NotADirectoryError):
            self.old = None
        name = target.name[:64]
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent)
        self.fd, self.tmp = fd, Path(tmp)

    def write(self, write: Callable[[BinaryIO], None]) -> None:
        with os.fdopen(self.fd, "wb") as f:
            write(f)
        if self.old is None:
            os.chmod(self.tmp, 0o666 & ~_umask())
        else:
            os.chmod(self.tmp, stat.S_IMODE(self.old.st_mode))
            if (self.old.st_uid, self.old.st_gid) != (os.getuid(), os.getgid()):
                with contextlib.suppress(OSError):  # only root may give a file away
                    os.chown(self.tmp, self.old.st_uid, self.old.st_gid)

    def commit(self) -> None:
        try:
            now = os.lstat(self.target)
        except FileNotFoundError:
            now = None
        if now is not None and not stat.S_ISREG(now.st_mode):  # changed since the check: never rename over it
            raise self.error(f"cannot write {str(self.given)!r}: it is {_kind(now.st_mode)}, not a regular file")
        if now is not None and now.st_nlink > 1:
            with open(self.tmp, "rb") as src, open(self.target, "r+b") as dst:  # keep the hard links
                dst.truncate(0)
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            self.tmp.unlink()
        else:
            os.replace(self.tmp, self.target)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.tmp.unlink(missing_ok=True)


def atomic_write_many(
    items: Sequence[tuple[str | os.PathLike[str], Callable[[BinaryIO], None]]],
    error: type[CostModelError] = CostModelError,
    folder: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write a set of files, all or none: every ``write(file)`` runs on a temporary file first, and only when
    all have succeeded are they renamed into place. ``folder`` (optional) is created first when missing.

    Returns the paths as given. An ``OSError`` becomes ``error`` naming the path.
    """
    if folder is not None:
        check_folder(folder, error)
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise error(f"cannot write into {str(folder)!r}: {exc.strerror or exc}") from None
    targets = [(_as_path(p, error), check_output(p, error), w) for p, w in items]
    pending: list[_Pending] = []
    current = ""
    with _terminate_raises():
        try:
            for given, target, write in targets:
                current = str(given)
                p = _Pending(given, target, error)
                pending.append(p)
                p.write(write)
            for p in pending:
                current = str(p.given)
                p.commit()
        except OSError as exc:
            for p in pending:
                p.discard()
            raise error(f"cannot write {current!r}: {exc.strerror or exc}") from None
        except BaseException:
            for p in pending:
                p.discard()
            raise
    return [given for given, _, _ in targets]


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[BinaryIO], None],
    error: type[CostModelError] = CostModelError,
) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``'s target, then put it in place.

    Nothing is left on disk if ``write`` raises or the process gets SIGTERM; an ``OSError`` becomes ``error``
    naming the path. See the module docstring for symbolic links, hard links, devices and permissions.
    """
    return atomic_write_many([(path, write)], error)[0]

"""Writing files: checked first, then written atomically (a temporary file in the target folder, renamed).

Every file costmodel writes (tables, profiles, weights, ONNX models, figures) goes through :func:`atomic_write`
(or :func:`atomic_write_many` for a set of files). The rule: **a file is replaced by a rename, never rewritten
in place.** The new contents go to a temporary file beside the target, are flushed to disk (``fsync``, so a
full disk is found here and not later), get the old file's permissions, owner and extended attributes, and are
renamed over the target. Whatever happens before the rename (an error, a full disk, SIGTERM, SIGHUP, Ctrl-C),
the old file is untouched and the temporary file removed; the rename itself is atomic, so a reader, or a second
writer, finds the complete old file or the complete new one, never a mix.

What is at the path decides what is replaced:

- nothing, or a regular file: the new file takes its name. An existing file keeps its permission bits, its
  owner and group (only root may give a file away: a file another user owns, replaced by someone else, becomes
  the writer's) and its extended attributes (``user.*`` attributes, POSIX ACLs, SELinux labels: copied where the
  file system and the process's rights allow, silently dropped where they do not); a new file gets what a plain
  ``open(path, "w")`` would give it;
- a regular file with other hard links: **the name given gets the new file, the other names keep the old
  contents** (the link is broken, as ``sed -i``, ``rsync`` and most tools do). Rewriting the shared file in
  place would keep the link, but any failure part-way would lose the old contents under every name;
- a symbolic link: its final target is replaced, as above; the link stays;
- a path ending in ``/`` names a folder: refused where a file is written (``--out newdir/`` never writes a file
  called ``newdir``); a folder output (``plot --out figs/``) takes it;
- anything else (a folder, a device such as ``/dev/null``, a FIFO, a socket): refused, before anything runs.

Not kept from a replaced file: its inode number and other hard links (above), its timestamps (the file is new),
and file flags that are not extended attributes (``chattr``'s; an immutable file cannot be replaced anyway).

A set of files (:func:`atomic_write_many`, e.g. ``plot --out DIR``) is written **all or none**: every file goes
to its temporary file first (a full disk part-way through the set changes nothing); then each old file is kept
under a second hard link beside it (``.<name>.<random>.old``) while the new files are renamed into place, so a
rename that fails puts every old file back; the links are removed at the end. The renames take microseconds and
run with SIGTERM, SIGHUP and SIGINT held back until they are done, and under an exclusive ``flock`` on each
target folder, so two costmodel processes writing the same set never interleave their renames: the set ends as
one writer's complete output. A folder the set created is removed again when the set fails.

What no user-space procedure can promise: a process killed by SIGKILL, or a power cut, during a set's renames
can leave the set part-new (each file still whole) and a ``.old`` link behind; signal handlers can only be
installed by the main thread, so a write from another thread cannot hold SIGTERM back (its default action ends
the process); a program that does not take the folder lock can interleave with a set (each file still whole); on
a file system without hard links, the old files of a set cannot be put back after a failed rename.

:func:`check_output` makes the checks (and that the folder exists and takes a new file) without writing
anything: commands call it on their ``--out`` before a long computation.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from .errors import CostModelError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: sets are still all or none, but not locked
    fcntl = None  # type: ignore[assignment]

__all__ = ["atomic_write", "atomic_write_many", "check_output", "check_folder", "check_input"]

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)

#: errno values of ``os.link`` meaning "this file system or file takes no (more) hard links": a set's old file
#: is then not kept aside (it cannot be put back if a later rename fails), rather than the write refused.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS, errno.EACCES}


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (``os.umask`` sets it, so another thread
    creating a file in between would get a file readable by all)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
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


def _names_a_folder(text: str) -> bool:
    """``text`` ends in a path separator (``Path`` drops it: ``Path("newdir/").name == "newdir"``)."""
    return text.endswith(os.sep) or bool(os.altsep and text.endswith(os.altsep))


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
    ``error`` (one line naming the path) when the folder does not exist, cannot be read or is not writable, when
    the name is too long for the file system, when ``path`` ends in ``/``, or when something other than a
    regular file (a folder, a device, a FIFO, a socket) or a link to one is at the path.

    >>> check_output("/dev/null")
    Traceback (most recent call last):
    ...
    costmodel.errors.CostModelError: cannot write '/dev/null': it is a character device, not a regular file
    """
    given = _as_path(path, error)
    shown = os.fspath(path)
    if _names_a_folder(shown):
        raise error(f"cannot write {shown!r}: a path ending in {os.sep!r} names a folder, not a file")
    try:
        return _check_output(given, shown, error)
    except OSError as exc:  # a folder that cannot be searched, a name too long, an I/O error
        raise error(f"cannot write {shown!r}: {exc.strerror or exc}") from None


def _check_output(given: Path, shown: str, error: type[CostModelError]) -> Path:
    target = given
    if given.is_symlink():
        target = Path(os.path.realpath(given))
        if target.is_symlink():
            raise error(f"cannot write {shown!r}: a symbolic link that loops")
    try:
        st = target.stat()
    except (FileNotFoundError, NotADirectoryError):
        st = None
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
        dangling = " (a symbolic link to nothing)" if os.path.islink(given) else ""
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
    is a writable folder (or one that can be searched, or the name is too long for the file system).
    """
    given = _as_path(folder, error)
    shown = str(given)
    try:
        return _check_folder(given, shown, error, create)
    except OSError as exc:
        raise error(f"cannot write into {shown!r}: {exc.strerror or exc}") from None


def _check_folder(given: Path, shown: str, error: type[CostModelError], create: bool) -> Path:
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
    longest = max(len(os.fsencode(part)) for part in given.relative_to(parent).parts)
    if longest > _name_max(parent):  # mkdir would fail only when the set is written
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
    _probe_folder(parent, shown, error)
    return given


def _name_max(folder: Path) -> int:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return os.pathconf(folder, "PC_NAME_MAX")
    return 255


class _Signals:
    """SIGTERM and SIGHUP raise ``SystemExit`` while a file is written (so the temporary file is removed), and
    SIGTERM, SIGHUP and SIGINT are held back while a set is renamed into place (then acted on)."""

    def __init__(self) -> None:
        self.holding = False
        self.held: int | None = None

    def handle(self, signum: int, frame: object) -> None:
        if self.holding:
            if self.held is None:
                self.held = signum
            return
        raise self._exception(signum)

    @staticmethod
    def _exception(signum: int) -> BaseException:
        return KeyboardInterrupt() if signum == signal.SIGINT else SystemExit(128 + signum)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the signals back for the duration (renames): raise the first one that came, at the end."""
        self.holding, self.held = True, None
        try:
            yield
        finally:
            self.holding = False
            held, self.held = self.held, None
            if held is not None:
                raise self._exception(held)


@contextlib.contextmanager
def _terminate_raises() -> Iterator[_Signals]:
    """Install :class:`_Signals` for SIGTERM and SIGHUP when nothing else handles them (their default action
    would end the process with the temporary file left behind), and for SIGINT when Python's own handler has it;
    only the main thread can."""
    signals = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    previous = {}
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        handler = signal.getsignal(signum)
        if handler == signal.SIG_DFL or (signum == signal.SIGINT and handler is signal.default_int_handler):
            previous[signum] = signal.signal(signum, signals.handle)
    try:
        yield signals
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _folders_locked(folders: Sequence[Path]) -> Iterator[None]:
    """An exclusive ``flock`` on each folder (in one order, so two writers never deadlock): costmodel's writers
    of one set take turns for their renames. Best effort: a folder that cannot be opened or locked is not."""
    fds: list[int] = []
    try:
        for folder in sorted({os.path.realpath(f) for f in folders}):
            if fcntl is None:
                break
            try:
                fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except OSError:
                continue
            fds.append(fd)
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:
            os.close(fd)  # releases the lock


def _copy_xattrs(source: Path, dest: Path) -> None:
    """Copy every extended attribute of ``source`` to ``dest``, each where allowed (best effort)."""
    if not hasattr(os, "listxattr"):  # not Linux
        return
    try:
        names = os.listxattr(source)
    except OSError:  # the file system has none
        return
    for name in names:
        with contextlib.suppress(OSError):
            os.setxattr(dest, name, os.getxattr(source, name))


class _Pending:
    """One file being written: its temporary file, the old file kept aside (in a set), how to put it in place."""

    def __init__(self, given: Path, target: Path, error: type[CostModelError]) -> None:
        self.given, self.target, self.error = given, target, error
        self.aside: Path | None = None  # a second hard link to the old file while a set is renamed
        self.committed = False
        try:
            self.old: os.stat_result | None = target.stat()
        except (FileNotFoundError, NotADirectoryError):
            self.old = None
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:64]}.", suffix=".tmp", dir=target.parent)
        self.fd, self.tmp = fd, Path(tmp)

    def write(self, write: Callable[[BinaryIO], None]) -> None:
        fd, self.fd = self.fd, -1
        with os.fdopen(fd, "wb") as f:  # closes fd, also when write raises
            write(f)
            f.flush()
            try:
                os.fsync(f.fileno())  # a full disk or an I/O error shows here, before any rename
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):  # no fsync on this fs
                    raise
        if self.old is None:
            os.chmod(self.tmp, 0o666 & ~_umask())
            return
        if (self.old.st_uid, self.old.st_gid) != (os.getuid(), os.getgid()):
            with contextlib.suppress(OSError):  # only root may give a file away
                os.chown(self.tmp, self.old.st_uid, self.old.st_gid)
        os.chmod(self.tmp, stat.S_IMODE(self.old.st_mode))  # after chown, which clears set-user-ID bits
        _copy_xattrs(self.target, self.tmp)

    def keep_old(self) -> None:
        """Give the old file (if any) a second name beside it, to put back if the set fails."""
        for _ in range(100):
            aside = self.target.parent / f".{self.target.name[:64]}.{secrets.token_hex(6)}.old"
            try:
                os.link(self.target, aside, follow_symlinks=False)
            except FileNotFoundError:
                return  # nothing to keep
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno in _NO_LINKS:
                    return
                raise
            self.aside = aside
            return
        raise FileExistsError(errno.EEXIST, "no free name for the old file", str(self.target))

    def commit(self) -> None:
        now = os.lstat(self.target) if os.path.lexists(self.target) else None
        if now is not None and not stat.S_ISREG(now.st_mode):  # changed since the check: never rename over it
            raise self.error(f"cannot write {str(self.given)!r}: it is {_kind(now.st_mode)}, not a regular file")
        os.replace(self.tmp, self.target)
        self.committed = True

    def restore(self) -> None:
        """Undo :meth:`commit`: the old file back under its name, or no file where there was none."""
        if not self.committed:
            return
        with contextlib.suppress(OSError):
            if self.aside is not None:
                os.replace(self.aside, self.target)
                self.aside = None
            elif self.old is None:
                os.unlink(self.target)
        self.committed = False

    def discard(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        if not self.committed:
            self.tmp.unlink(missing_ok=True)
        if self.aside is not None:
            with contextlib.suppress(OSError):
                self.aside.unlink()
            self.aside = None


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest last."""
    missing = []
    path = folder
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    made = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        made.append(path)
    return made


def _commit(pending: Sequence[_Pending], signals: _Signals, error: type[CostModelError]) -> None:
    """Rename every temporary file into place, or none: under the folder locks, with signals held back; the old
    files of a set are kept aside first and put back if a rename fails."""
    done: list[_Pending] = []
    current = pending[0]
    with _folders_locked([p.target.parent for p in pending]), signals.hold():
        try:
            if len(pending) > 1:  # one rename is atomic by itself
                for current in pending:
                    current.keep_old()
            for current in pending:
                current.commit()
                done.append(current)
        except BaseException as exc:
            for p in reversed(done):
                p.restore()
            if isinstance(exc, OSError):
                raise error(f"cannot write {str(current.given)!r}: {exc.strerror or exc}") from None
            raise


def atomic_write_many(
    items: Sequence[tuple[str | os.PathLike[str], Callable[[BinaryIO], None]]],
    error: type[CostModelError] = CostModelError,
    folder: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write a set of files, all or none: every ``write(file)`` runs on a temporary file first, and only when
    all have succeeded are they renamed into place (the module docstring lists the faults this holds under).
    ``folder`` (optional) is created first when missing, and removed again if the set fails.

    Returns the paths as given. An ``OSError`` becomes ``error`` naming the path.
    """
    targets = [(_as_path(p, error), p, w) for p, w in items]
    made: list[Path] = []
    if folder is not None:
        check_folder(folder, error)
        try:
            made = _make_folder(Path(folder))
        except OSError as exc:
            raise error(f"cannot write into {str(folder)!r}: {exc.strerror or exc}") from None
    pending: list[_Pending] = []
    try:
        checked = [(given, check_output(p, error), w) for given, p, w in targets]
        with _terminate_raises() as signals:
            try:
                for given, target, write in checked:
                    try:
                        pending.append(_Pending(given, target, error))
                        pending[-1].write(write)
                    except OSError as exc:
                        raise error(f"cannot write {str(given)!r}: {exc.strerror or exc}") from None
                if pending:
                    _commit(pending, signals, error)
            finally:
                for p in pending:
                    p.discard()
    except BaseException:
        for path in reversed(made):
            with contextlib.suppress(OSError):
                path.rmdir()  # only if empty: a folder the set created, with nothing put there meanwhile
        raise
    return [given for given, _, _ in targets]


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[BinaryIO], None],
    error: type[CostModelError] = CostModelError,
) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``'s target, then rename it into place.

    Nothing is left on disk if ``write`` raises or the process gets SIGTERM or SIGHUP, and the old file stays
    whole; an ``OSError`` becomes ``error`` naming the path. See the module docstring for symbolic links, hard
    links, devices, permissions and extended attributes.
    """
    return atomic_write_many([(path, write)], error)[0]

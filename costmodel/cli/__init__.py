"""The ``costmodel`` command line.

Each subcommand is a module of this package with ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; it imports anything heavy inside ``run``. Register a new one in :data:`COMMANDS`. A command
prints a result (``--out`` and ``--format``, :func:`costmodel.cli._common.add_output_arguments`) unless its module
says ``RESULT = False`` (it writes a file of its own kind); a command that builds a network takes ``--network
NAME[@RES]``, ``--spec FILE`` and the builders' options (:func:`costmodel.cli._common.add_network_arguments`).

Errors: any :class:`~costmodel.errors.CostModelError` (and any argument error) is printed as one line on
stderr, ``costmodel: error: ...``, with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import io
import os
import sys
from collections.abc import Iterator, Sequence

from ..errors import CostModelError

__all__ = ["main", "COMMANDS"]

#: Subcommand modules, in the order ``costmodel --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "tables",
    "count",
    "conventions",
    "sweep",
    "formula",
    "budget",
    "card",
    "plot",
    "run",
    "profile",
    "export-onnx",
    "export-tflite",
    "convert-weights",
    "calibrate",
    "latency",
    "validate-latency",
    "population",
)

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), like every other error here."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _fail(f"{self.prog}: error: {message}")


def _fail(message: str) -> None:
    print(message.replace("\n", " "), file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="costmodel",
        description="Exact parameter and Mult-Add counts for MobileNetV1 (Howard et al., 2017, arXiv:1704.04861).",
        epilog="Run 'costmodel COMMAND --help' for the options of a command.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"costmodel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _check_outputs(args: argparse.Namespace, folder_out: bool, others: Sequence[str] = ()) -> None:
    """Check every output location before the command computes anything (a calibration takes seconds):
    ``--out`` (a folder for commands with ``OUT_IS_FOLDER``), ``--plots``, and the arguments a command names in
    ``OUTPUT_ARGS``."""
    from .._files import check_folder, check_output

    for name in others:
        check_output(getattr(args, name))
    out = getattr(args, "out", None)
    if out is not None:
        if folder_out:
            check_folder(out)
        else:
            check_output(out)
    plots = getattr(args, "plots", None)
    if plots is not None:
        check_folder(plots)


def _stdout_gone() -> None:
    """Point file descriptor 1 at /dev/null, so that the interpreter's last flush cannot fail again."""
    stdout = sys.stdout
    if stdout is None or stdout is not sys.__stdout__:  # never the captured stream of a test
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # sys.__stdout__ writes to file descriptor 1
        os.close(devnull)
    except (OSError, ValueError):
        pass


class _WholeWrites(io.RawIOBase):
    """File descriptor 1, each write complete or an ``OSError``. Python's unbuffered standard output
    (``python -u``, ``PYTHONUNBUFFERED=1``) hands its text layer a raw file whose short write it ignores: a pipe
    whose reader leaves part-way takes 64 KiB of a larger write, and the rest was dropped with exit status 0."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            n = os.write(self._fd, view)  # the next write after a short one fails with the reason (EPIPE, ENOSPC)
            if n <= 0:
                raise OSError(errno.EIO, "standard output took no bytes")
            view = view[n:]
        return total


@contextlib.contextmanager
def _whole_stdout() -> Iterator[None]:
    """While a command runs, standard output (when it is the process's own and unbuffered) writes whole or fails."""
    stdout = sys.stdout
    if (
        stdout is not sys.__stdout__
        or not isinstance(stdout, io.TextIOWrapper)
        or isinstance(stdout.buffer, io.BufferedIOBase)
    ):
        yield  # a buffered stdout retries short writes itself; a test's captured stream is left alone
        return
    try:
        fd = stdout.fileno()
        stdout.flush()
    except (OSError, ValueError, AttributeError):
        yield
        return
    sys.stdout = io.TextIOWrapper(
        _WholeWrites(fd),
        encoding=stdout.encoding,
        errors="backslashreplace",
        line_buffering=stdout.line_buffering,
        write_through=True,
    )
    try:
        yield
    finally:
        wrapper, sys.stdout = sys.stdout, stdout
        with contextlib.suppress(OSError, ValueError):
            wrapper.flush()
        wrapper.detach()  # never closes file descriptor 1


#: What a failing write to standard output raises: a full disk (/dev/full), an I/O error, a closed descriptor.
_STDOUT_ERRNOS = (errno.ENOSPC, errno.EIO, errno.EBADF, errno.EDQUOT, errno.EFBIG)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``costmodel`` console script and of ``python -m costmodel``.

    Exit status: 0 done; 2 bad input, or an output that cannot be written (a full or closed standard output
    included), with one line on stderr; 141 (as if killed by SIGPIPE) when the reader of standard output went
    away before all of it was written, quietly (``costmodel sweep ... | head -1``; an output that fits in the
    pipe's buffer, as ``costmodel tables`` does, is all written before the reader leaves: status 0, as for any
    program); never 0 when part of the output was lost; 130 on Ctrl-C.
    """
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # a name the terminal cannot encode is escaped, never a crash
            with contextlib.suppress(OSError, ValueError):  # a closed stream fails later, where it is written
                stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(f"{__name__}.{args.command.replace('-', '_')}")
    try:
        if sys.stdout is None:  # started with standard output closed (`costmodel count >&-`)
            raise OSError(errno.EBADF, "standard output is closed")
        _check_outputs(args, getattr(module, "OUT_IS_FOLDER", False), getattr(module, "OUTPUT_ARGS", ()))
        with _whole_stdout():
            code = int(args._run(args) or 0)
            sys.stdout.flush()
        return code
    except CostModelError as exc:
        _fail(f"costmodel {args.command}: error: {exc}")
    except BrokenPipeError:
        _stdout_gone()
        return 128 + 13
    except OSError as exc:
        if exc.errno not in _STDOUT_ERRNOS:
            raise
        _stdout_gone()
        _fail(f"costmodel {args.command}: error: cannot write to standard output: {exc.strerror or exc}")
    except MemoryError:
        _fail(f"costmodel {args.command}: error: out of memory (see docs/limits.md)")
    except KeyboardInterrupt:
        print("costmodel: interrupted", file=sys.stderr)
        return 130
    return 0

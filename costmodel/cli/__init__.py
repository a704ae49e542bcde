"""The ``costmodel`` command line.

Each subcommand is a module of this package with ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; it imports anything heavy inside ``run``. Register a new one in :data:`COMMANDS`.

Errors: any :class:`~costmodel.errors.CostModelError` (and any argument error) is printed as one line on
stderr, ``costmodel: error: ...``, with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

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
    "convert-weights",
    "calibrate",
    "latency",
    "validate-latency",
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``costmodel`` console script and of ``python -m costmodel``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CostModelError as exc:
        _fail(f"costmodel {args.command}: error: {exc}")
    except BrokenPipeError:  # e.g. `costmodel tables | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("costmodel: interrupted", file=sys.stderr)
        return 130
    return 0

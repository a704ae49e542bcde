"""Arguments and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CostModelError
from ..network import Network

FORMATS = ("table", "csv", "json", "markdown")


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--alpha, --resolution, --rho, --shallow, --full-conv, --num-classes: one MobileNetV1 configuration."""
    g = parser.add_argument_group("network")
    g.add_argument("--alpha", type=float, default=1.0, help="width multiplier α > 0 (default 1.0)")
    g.add_argument("--resolution", type=int, default=224, help="input resolution >= 32 (default 224)")
    g.add_argument("--rho", type=float, default=None, help="resolution multiplier ρ in (0, 1]: round(ρ·resolution)")
    g.add_argument("--shallow", action="store_true", help="Shallow MobileNet: drop the five 14x14x512 blocks")
    g.add_argument("--full-conv", action="store_true", help="Conv MobileNet: full 3x3 convs, not separable")
    g.add_argument("--num-classes", type=int, default=1000, help="classifier outputs (default 1000)")


def network_from_args(args: argparse.Namespace) -> Network:
    from ..mobilenet import mobilenet_v1

    return mobilenet_v1(
        args.alpha,
        args.resolution,
        rho=args.rho,
        shallow=args.shallow,
        separable=not args.full_conv,
        num_classes=args.num_classes,
        activation=getattr(args, "activation", "relu"),  # only the reference commands offer --activation
    )


def add_format_argument(parser: argparse.ArgumentParser, default: str = "table") -> None:
    parser.add_argument(
        "--format", choices=FORMATS, default=default, help=f"output format (default {default})"
    )


def emit(text: str, out: str | None = None) -> None:
    """Print ``text``, or write it to ``out`` atomically (a temporary file renamed into place)."""
    if out is None:
        sys.stdout.write(text.rstrip("\n") + "\n")
        return
    path = Path(out)
    if not path.parent.exists():
        raise CostModelError(f"cannot write {out!r}: folder {str(path.parent)!r} does not exist")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CostModelError(f"cannot write {out!r}: {exc.strerror}") from None

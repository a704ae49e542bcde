"""Arguments and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from .._files import atomic_write
from ..checks import MAX_SIZE
from ..errors import SpecError
from ..spec.network import Network

FORMATS = ("table", "csv", "json", "markdown")


def add_flavour_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None) -> None:
    """--flavour: which framework's MobileNetV1 (costmodel.spec.flavours)."""
    from ..spec.flavours import FLAVOURS

    parser.add_argument(
        "--flavour",
        choices=list(FLAVOURS),
        default=default,
        help="which framework's MobileNetV1: padding, activation, batch norm, classifier "
        "(default paper" + ("" if default else "; with --weights, the file's") + ")",
    )


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--alpha, --resolution, --rho, --shallow, --full-conv, --num-classes, --flavour: one MobileNetV1."""
    g = parser.add_argument_group("network")
    g.add_argument("--alpha", type=float, default=None, help="width multiplier α > 0 (default 1.0)")
    g.add_argument("--resolution", type=int, default=None, help="input resolution >= 32 (default 224)")
    g.add_argument("--rho", type=float, default=None, help="resolution multiplier ρ in (0, 1]: round(ρ·resolution)")
    g.add_argument("--shallow", action="store_true", help="Shallow MobileNet: drop the five 14x14x512 blocks")
    g.add_argument("--full-conv", action="store_true", help="Conv MobileNet: full 3x3 convs, not separable")
    g.add_argument(
        "--num-classes", type=int, default=None, help="classifier outputs (default the flavour's: 1000, tfslim 1001)"
    )
    add_flavour_argument(g, None)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """--network NAME (a built-in network) or --spec FILE (a JSON network document) instead of MobileNetV1."""
    g = parser.add_argument_group("other networks").add_mutually_exclusive_group()
    g.add_argument(
        "--network",
        metavar="NAME",
        help="a built-in network: mobilenet_v1 (default), vgg16, googlenet, alexnet, squeezenet1_0, "
        "squeezenet1_1, mobilenet_v2 (with --resolution, --num-classes)",
    )
    g.add_argument("--spec", metavar="FILE", help="a network document in JSON (schema: costmodel.spec.serialize)")


def add_variant_arguments(parser: argparse.ArgumentParser, num_classes: bool = True) -> None:
    """--shallow, --full-conv (and --num-classes): the variant, for commands over many α and resolutions."""
    parser.add_argument("--shallow", action="store_true", help="Shallow MobileNet: drop the five 14x14x512 blocks")
    parser.add_argument("--full-conv", action="store_true", help="Conv MobileNet: full 3x3 convs, not separable")
    if num_classes:
        parser.add_argument(
            "--num-classes",
            type=int,
            default=None,
            help="classifier outputs (default the flavour's: 1000, tfslim 1001)",
        )
    add_flavour_argument(parser, "paper")


def network_from_args(args: argparse.Namespace) -> Network:
    from ..spec.mobilenet import mobilenet_v1

    spec, name = getattr(args, "spec", None), getattr(args, "network", None)
    if spec is not None or name not in (None, "mobilenet_v1"):
        mobilenet_only = {
            "--alpha": args.alpha is not None,
            "--rho": args.rho is not None,
            "--shallow": args.shallow,
            "--full-conv": args.full_conv,
            "--flavour": getattr(args, "flavour", None) is not None,
        }
        given = [flag for flag, on in mobilenet_only.items() if on]
        if spec is not None and (args.resolution is not None or args.num_classes is not None):
            given += ["--resolution/--num-classes"]
        if given:
            what = f"--spec {spec}" if spec is not None else f"--network {name}"
            raise SpecError(f"{', '.join(given)} cannot be combined with {what}")
        if spec is not None:
            return Network.load(spec)
        from ..spec.zoo import network

        return network(
            name,
            resolution=224 if args.resolution is None else args.resolution,
            num_classes=1000 if args.num_classes is None else args.num_classes,
        )
    return mobilenet_v1(
        1.0 if args.alpha is None else args.alpha,
        224 if args.resolution is None else args.resolution,
        rho=args.rho,
        shallow=args.shallow,
        separable=not args.full_conv,
        num_classes=args.num_classes,
        activation=getattr(args, "activation", None),  # only the reference commands offer --activation
        flavour=getattr(args, "flavour", None) or "paper",
    )


def add_format_argument(parser: argparse.ArgumentParser, default: str = "table") -> None:
    parser.add_argument("--format", choices=FORMATS, default=default, help=f"output format (default {default})")


def emit(text: str, out: str | None = None) -> None:
    """Print ``text``, or write it to ``out`` atomically (a temporary file renamed into place)."""
    if out is None:
        sys.stdout.write(text.rstrip("\n") + "\n")
        return
    atomic_write(out, lambda f: f.write((text.rstrip("\n") + "\n").encode("utf-8")))


#: Most threads a --threads option takes (far more than any machine this runs on has cores).
MAX_THREADS = 1024

#: Environment variables that set the BLAS / OpenMP thread count; read once, when NumPy loads its BLAS.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def int_at_least(minimum: int, maximum: int = MAX_SIZE) -> Callable[[str], int]:
    """An argparse type: an integer from ``minimum`` to ``maximum`` (a bad value is a one-line usage error,
    exit 2). Every integer option has an upper bound, so that no value makes a loop endless or a count overflow.
    """

    wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text) if len(text) <= 30 else None
        except ValueError:
            value = None
        if value is None:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text[:40]!r}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"expected at most {maximum:,}, got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in "invalid int value" messages
    return parse


positive_int = int_at_least(1)


#: Every command that runs NumPy measures or computes on this many BLAS threads unless --threads says otherwise:
#: on a shared machine a multi-threaded matrix product stalls whenever another process takes a core.
DEFAULT_THREADS = 1


def add_threads_argument(parser: argparse.ArgumentParser, default: int = DEFAULT_THREADS, why: str = "") -> None:
    """``--threads N``: BLAS threads for this run; one rule for every command: default
    :data:`DEFAULT_THREADS`, 0 keeps the environment's setting."""
    parser.add_argument(
        "--threads",
        type=int_at_least(0, MAX_THREADS),
        default=default,
        help=f"threads for the matrix products (sets OPENBLAS_NUM_THREADS before NumPy loads); 0 keeps the "
        f"environment's setting (default {default}){why}",
    )


def apply_threads(threads: int) -> None:
    """Set the BLAS thread count before NumPy is imported (OpenBLAS reads it once, when NumPy loads).

    Once NumPy is loaded (``main()`` called from a Python session that already imported it) the setting can no
    longer change, and the run keeps the session's BLAS threads.
    """
    if threads == 0 or "numpy" in sys.modules:
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)

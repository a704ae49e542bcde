"""``costmodel sweep``: exact Mult-Adds and parameters over a grid (or list) of α and resolutions."""

from __future__ import annotations

import argparse

from ._common import add_output_arguments, add_variant_arguments, emit

NAME = "sweep"
HELP = "Mult-Adds and parameters over many alpha x resolution configurations at once"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--alpha", type=float, nargs="+", action="extend", help="width multipliers (default 1.0 0.75 0.5 0.25)"
    )
    g = parser.add_mutually_exclusive_group()
    g.add_argument(
        "--resolution", type=int, nargs="+", action="extend", help="input resolutions (default 224 192 160 128)"
    )
    g.add_argument("--rho", type=float, nargs="+", action="extend", help="resolution multipliers in (0, 1] (of 224)")
    parser.add_argument(
        "--paired", action="store_true", help="pair alpha[i] with resolution[i] instead of every combination"
    )
    add_variant_arguments(parser)
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..counting.sweeps import sweep
    from ..report.tables import render

    df = sweep(
        args.alpha or [1.0, 0.75, 0.5, 0.25],
        args.resolution or [224, 192, 160, 128],
        rho=args.rho,
        grid=not args.paired,
        shallow=args.shallow,
        separable=not args.full_conv,
        num_classes=args.num_classes,
        flavour=args.flavour,
    )
    df = df.assign(mult_adds_millions=df["mult_adds"] / 1e6, params_millions=df["params"] / 1e6)
    title = "MobileNetV1 sweep (paper convention)" + ("" if args.flavour == "paper" else f", {args.flavour} flavour")
    emit(render(df, args.format, title=title, float_digits=3), args.out)
    return 0

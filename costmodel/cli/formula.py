"""``costmodel formula``: P, Q, R, S, T of MobileNetV1's closed form, in total and per layer type."""

from __future__ import annotations

import argparse

from ..checks import dump_json
from ._common import add_output_arguments, add_variant_arguments, emit

NAME = "formula"
HELP = "closed form mult_adds = rho^2*(P*alpha^2 + Q*alpha) + R*alpha, params = S*alpha^2 + T*alpha"

MULT_ADDS = "mult_adds = rho^2 * (P*alpha^2 + Q*alpha) + R*alpha"
PARAMS = "params = S*alpha^2 + T*alpha"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_variant_arguments(parser)
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..counting.closed_form import closed_form
    from ..report.tables import records, render

    cf = closed_form(args.shallow, not args.full_conv, args.num_classes, args.flavour)
    df = cf.table()
    where = (
        f"exact when alpha is a multiple of {cf.alpha_step} (every int(c*alpha) == c*alpha) and the "
        f"resolution a multiple of {cf.resolution_step} (every stride-2 map halves exactly); "
        "rho = resolution / 224; elsewhere an approximation"
    )
    if args.format == "json":
        text = dump_json(
            {"mult_adds": MULT_ADDS, "params": PARAMS, "applies": where, "coefficients": records(df)}, indent=2
        )
    elif args.format == "csv":
        text = render(df, "csv")
    else:
        title = f"{MULT_ADDS};  {PARAMS}"
        text = render(df, args.format, title=title) + "\n\n" + where
    emit(text, args.out)
    return 0

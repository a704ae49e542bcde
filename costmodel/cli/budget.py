"""``costmodel budget``: the widest MobileNetV1 under a budget, every grid point under it, or the frontier."""

from __future__ import annotations

import argparse

from ._common import add_output_arguments, add_variant_arguments, count_argument, emit

NAME = "budget"
HELP = "largest alpha under a Mult-Adds/params budget, grid points under it, or the accuracy frontier"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mult-adds", type=count_argument, help="Mult-Adds budget, a count: 300M, 3e8 or 300000000")
    parser.add_argument("--params", type=count_argument, help="parameter budget, a count: 2M, 2e6 or 2000000")
    parser.add_argument(
        "--resolution", type=int, nargs="+", action="extend", help="input resolutions (default 224 192 160 128)"
    )
    parser.add_argument(
        "--alpha",
        type=float,
        nargs="+",
        action="extend",
        help="list every point of this alpha grid x --resolution under the budget (not the largest alpha)",
    )
    parser.add_argument(
        "--frontier",
        choices=("mult_adds", "params"),
        help="print the Pareto frontier of published top-1 against this cost over the 16 TF-slim models",
    )
    add_variant_arguments(parser, num_classes=False)
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..counting.budget import largest_alpha, under_budget
    from ..errors import SpecError
    from ..paper.accuracy import frontier
    from ..report.tables import render

    variant = {"shallow": args.shallow, "separable": not args.full_conv, "flavour": args.flavour}
    if args.frontier:
        given = {"--mult-adds": args.mult_adds, "--params": args.params, "--alpha": args.alpha}
        others = [f for f, v in {**given, "--resolution": args.resolution}.items() if v is not None]
        if others:
            raise SpecError(f"--frontier cannot be combined with {', '.join(others)}: it lists the published models")
        df = frontier(args.frontier)
        cols = ["model", "alpha", "resolution", args.frontier, "top1", "top5"]
        title = f"Pareto frontier: published top-1 vs computed {args.frontier}"
        emit(render(df[cols], args.format, title=title), args.out)
        return 0
    if args.mult_adds is None and args.params is None:
        raise SpecError("give --mult-adds and/or --params (or --frontier)")
    resolutions = args.resolution or [224, 192, 160, 128]
    budgets = {"mult_adds": args.mult_adds, "params": args.params}
    if args.alpha:
        df = under_budget(args.alpha, resolutions, **budgets, **variant)
        title = f"{len(df)} grid points under the budget"
    else:
        rows = []
        for r in resolutions:
            b = largest_alpha(r, **budgets, **variant)
            if b is None:
                rows.append({"resolution": r, "alpha": None, "note": "no alpha fits: alpha = 1/32 is over budget"})
            else:
                rows.append(
                    {
                        "resolution": r,
                        "alpha": b.alpha,
                        "alpha_sup": b.alpha_sup,
                        "mult_adds": b.mult_adds,
                        "params": b.params,
                        "note": f"every alpha in [{b.alpha:g}, {b.alpha_sup:g}) fits",
                    }
                )
        df = pd.DataFrame(rows, columns=["resolution", "alpha", "alpha_sup", "mult_adds", "params", "note"])
        for col in ("mult_adds", "params"):  # counts stay integers where a resolution has no alpha (NA, not NaN)
            if col in df.columns:
                df[col] = df[col].astype("Int64")
        title = "Largest alpha under the budget (channels int(c*alpha))"
    emit(render(df, args.format, title=title, float_digits=6), args.out)
    return 0

"""``costmodel count``: per-layer parameters and Mult-Adds of one MobileNetV1 configuration."""

from __future__ import annotations

import argparse
import json

from ._common import add_format_argument, add_network_arguments, emit, network_from_args

NAME = "count"
HELP = "per-layer parameters and Mult-Adds of one MobileNetV1 configuration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    parser.add_argument(
        "--convention",
        default="paper",
        help="counting convention (default 'paper'); add options with '+', e.g. 'paper+bias+bn' "
        "(options: bias, bn, bn-stats, bias-ops, bn-ops, activation-ops, pool-ops)",
    )
    parser.add_argument("--formula", action="store_true", help="add each layer's formula with values substituted")
    add_format_argument(parser)
    parser.add_argument("--out", help="write to this file instead of standard output")


def run(args: argparse.Namespace) -> int:
    from ..engine import count
    from ..report import records, render

    cost = count(network_from_args(args), args.convention)
    df = cost.table()
    if not args.formula:
        df = df.drop(columns="formula")
    if args.format == "json":
        text = json.dumps(
            {
                "network": cost.network.name,
                "config": dict(cost.network.config),
                "convention": cost.convention.name,
                "mult_adds": cost.mult_adds,
                "flops": cost.flops,
                "params": cost.params,
                "layers": records(df),
            },
            indent=2,
        )
    elif args.format == "csv":
        text = render(df, "csv")
    else:
        title = f"{cost.network.name}, convention '{cost.convention.name}'"
        total = (
            f"Total: {cost.mult_adds:,} Mult-Adds ({cost.mult_adds / 1e6:,.2f} M; "
            f"FLOPs = 2 x Mult-Adds = {cost.flops:,}), {cost.params:,} parameters ({cost.params / 1e6:,.2f} M)"
        )
        text = render(df, args.format, title=title) + "\n\n" + total
    emit(text, args.out)
    return 0

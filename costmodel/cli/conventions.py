"""``costmodel conventions``: every counting convention side by side for one network.

One row per convention (the paper's and each tool preset of :mod:`costmodel.counting.presets`): Mult-Adds and
parameters by its rules, the number the tool itself prints (in its own unit: FLOPs for ``torch``; in JSON
also as ``tool_count`` with ``tool_unit``), the difference from the paper, and one line saying what makes it
differ.
"""

from __future__ import annotations

import argparse

from ..checks import dump_json
from ._common import add_format_argument, add_network_arguments, add_source_arguments, emit, network_from_args

NAME = "conventions"
HELP = "the paper's and fvcore/thop/ptflops/torchinfo/torch/keras counting conventions side by side"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    add_source_arguments(parser)
    add_format_argument(parser)
    parser.add_argument("--out", help="write to this file instead of standard output")


def rows(network: object) -> list[dict[str, object]]:
    """One plain dictionary per convention (what the table shows)."""
    from ..counting.conventions import get_convention
    from ..counting.engine import count
    from ..counting.presets import preset_names, tool_value, trainable_params

    paper = count(network, "paper")  # type: ignore[arg-type]
    out = []
    for name in preset_names():
        conv = get_convention(name)
        cost = paper if name == "paper" else count(network, conv)  # type: ignore[arg-type]
        reports_ops = "mult_adds" in conv.reports
        out.append(
            {
                "convention": name,
                "mult_adds": cost.mult_adds,
                "params": cost.params,
                "trainable_params": trainable_params(cost),
                "tool_reports": (
                    f"{tool_value(cost.mult_adds, conv):,} {'FLOPs' if conv.unit == 'flops' else 'Mult-Adds'}"
                    if reports_ops
                    else "params only"
                ),
                "tool_count": tool_value(cost.mult_adds, conv) if reports_ops else None,
                "tool_unit": conv.unit if reports_ops else None,
                "mult_adds_minus_paper": cost.mult_adds - paper.mult_adds,
                "params_minus_paper": cost.params - paper.params,
                "differs_by": conv.summary,
            }
        )
    return out


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..report.tables import render

    network = network_from_args(args)
    table = rows(network)
    if args.format == "json":
        text = dump_json({"network": network.name, "conventions": table}, indent=2)
    else:
        title = f"{network.name}: counting conventions (Mult-Adds = multiply-accumulates; FLOPs = 2 x Mult-Adds)"
        frame = pd.DataFrame(table).drop(columns=["tool_count", "tool_unit"])  # the JSON form keeps them
        text = render(frame, args.format, title=title)
    emit(text, args.out)
    return 0

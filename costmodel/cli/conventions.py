"""``costmodel conventions``: every counting convention side by side for one network.

One row per convention (the paper's and each tool preset of :mod:`costmodel.counting.presets`): Mult-Adds and
parameters by its rules, the number the tool itself prints (in its own unit: FLOPs for ``torch``; in JSON
also as ``tool_count`` with ``tool_unit``), the difference from the paper, and one line saying what makes it
differ. For the paper's MobileNetV1, the ``keras`` and ``tfslim`` presets count their framework's flavour of
the same configuration (:mod:`costmodel.spec.flavours`: Keras' padding at odd sizes, TF-slim's 1001 classes
and batch norm without gamma); the ``flavour`` column says which network each row counts.
"""

from __future__ import annotations

import argparse

from ..checks import dump_json
from ..spec.network import Network
from ._common import add_network_arguments, add_output_arguments, emit, network_from_args, select_columns

NAME = "conventions"
HELP = "the paper's and fvcore/thop/ptflops/torchinfo/torch/keras/tfslim counting conventions side by side"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    add_output_arguments(parser, columns=True)


#: The columns of the table and Markdown forms unless --wide or --columns says otherwise (differs_by, one line of
#: prose per convention, makes the table 369 characters wide).
KEY_COLUMNS = (
    "convention",
    "flavour",
    "mult_adds",
    "params",
    "trainable_params",
    "tool_reports",
    "mult_adds_minus_paper",
    "params_minus_paper",
)


def _network_for(network: Network, preset: str) -> Network:
    """The network a preset counts: for the paper's MobileNetV1, the framework's own flavour of the same
    configuration when the preset models a framework that has one (keras, tfslim); else ``network``."""
    from ..spec.flavours import FLAVOURS
    from ..spec.mobilenet import mobilenet_v1

    config = dict(network.config or {})
    if preset not in FLAVOURS or config.get("flavour") != "paper" or "alpha" not in config:
        return network
    kw = {k: config[k] for k in ("shallow", "separable") if k in config}
    return mobilenet_v1(config["alpha"], config["resolution"], flavour=preset, **kw)


def rows(network: Network) -> list[dict[str, object]]:
    """One plain dictionary per convention (what the table shows)."""
    from ..counting.conventions import get_convention
    from ..counting.engine import count
    from ..counting.presets import preset_names, tool_value, trainable_params

    paper = count(network, "paper")
    out = []
    for name in preset_names():
        conv = get_convention(name)
        counted = _network_for(network, name)
        cost = paper if name == "paper" else count(counted, conv)
        reports_ops = "mult_adds" in conv.reports
        out.append(
            {
                "convention": name,
                "flavour": (counted.config or {}).get("flavour", ""),
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

    from ..report.tables import records, render

    network = network_from_args(args)
    table = rows(network)
    if args.format == "json":
        doc = table if args.columns is None else records(select_columns(pd.DataFrame(table), args))
        text = dump_json({"network": network.name, "conventions": doc}, indent=2)
    else:
        title = f"{network.name}: counting conventions (Mult-Adds = multiply-accumulates; FLOPs = 2 x Mult-Adds)"
        frame = pd.DataFrame(table).drop(columns=["tool_count", "tool_unit"])  # the JSON form keeps them
        narrow = select_columns(frame, args, KEY_COLUMNS)
        if "differs_by" not in narrow.columns and args.format in ("table", "markdown"):
            title += "; --wide adds what makes each differ"
        text = render(narrow, args.format, title=title)
    emit(text, args.out)
    return 0

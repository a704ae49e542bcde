"""``costmodel count``: per-layer parameters and Mult-Adds (or, with ``--memory``, memory) of one network.

The network is a MobileNetV1 configuration (``--alpha``, ``--resolution``...), a built-in network
(``--network vgg16``) or a JSON document (``--spec net.json``, schema in :mod:`costmodel.spec.serialize`).
"""

from __future__ import annotations

import argparse

from ..checks import dump_json
from ._common import add_format_argument, add_network_arguments, add_source_arguments, emit, network_from_args

NAME = "count"
HELP = "per-layer parameters and Mult-Adds (or --memory) of MobileNetV1, a built-in network or a JSON spec"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    add_source_arguments(parser)
    parser.add_argument(
        "--convention",
        default="paper",
        help="counting convention (default 'paper'); add options with '+', e.g. 'paper+bias+bn' "
        "(options: bias, bn, bn-stats, bias-ops, bn-ops, activation-ops, pool-ops)",
    )
    parser.add_argument("--formula", action="store_true", help="add each layer's formula with values substituted")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="memory view: per-layer activation and weight elements and bytes at float32/float16/int8, "
        "peak live activations and traffic",
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "float16", "int8"),
        help="costs at one data type: weight and activation bytes, peak memory and bit operations (BOPs = "
        "Mult-Adds x weight bits x activation bits); int8 is TFLite's scheme (int8 weights and activations, "
        "int32 biases)",
    )
    add_format_argument(parser)
    parser.add_argument("--out", help="write to this file instead of standard output")


def run(args: argparse.Namespace) -> int:
    from ..counting.engine import count
    from ..errors import ConventionError
    from ..report.tables import records, render

    if args.memory and (args.convention != "paper" or args.formula):
        given = [f for f, on in (("--convention", args.convention != "paper"), ("--formula", args.formula)) if on]
        raise ConventionError(
            f"--memory cannot be combined with {' or '.join(given)}: memory is counted one way (elements and bytes "
            "of activations and of the weights an inference runtime stores, batch norm folded) under every convention"
        )
    if args.dtype is not None and (args.memory or args.convention != "paper" or args.formula):
        given = [
            f
            for f, on in (
                ("--memory", args.memory),
                ("--convention", args.convention != "paper"),
                ("--formula", args.formula),
            )
            if on
        ]
        raise ConventionError(
            f"--dtype cannot be combined with {' or '.join(given)}: costs by data type count the paper's "
            "Mult-Adds and the weights an inference runtime stores (batch norm folded)"
        )
    network = network_from_args(args)
    if args.dtype is not None:
        emit(_dtype_text(network, args.dtype, args.format), args.out)
        return 0
    if args.memory:
        emit(_memory_text(network, args.format), args.out)
        return 0
    cost = count(network, args.convention)
    df = cost.table()
    if not args.formula:
        df = df.drop(columns="formula")
    if args.format == "json":
        text = dump_json(
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


def _memory_text(network: object, fmt: str) -> str:
    from ..counting.memory import DTYPE_BYTES, memory
    from ..report.tables import memory_table, records, render

    mem = memory(network)  # type: ignore[arg-type]
    df = memory_table(mem)
    totals = {dtype: mem.bytes(dtype) for dtype in DTYPE_BYTES}
    if fmt == "json":
        return dump_json(
            {
                "network": network.name,  # type: ignore[attr-defined]
                "weight_elements": mem.weight_elements,
                "peak_live_elements": mem.peak_live_elements,
                "peak_layer": mem.peak_layer,
                "traffic_elements": mem.traffic_elements,
                "bytes": totals,
                "layers": records(df),
            },
            indent=2,
        )
    if fmt == "csv":
        return render(df, "csv")
    lines = [
        f"{dtype}: weights {t['weight_bytes']:,} B, peak live activations {t['peak_live_bytes']:,} B "
        f"(at {mem.peak_layer}), activation traffic {t['traffic_bytes']:,} B"
        for dtype, t in totals.items()
    ]
    title = f"{network.name}: memory (batch 1; batch norm folded into weights)"  # type: ignore[attr-defined]
    return render(df, fmt, title=title) + "\n\n" + "\n".join(lines)


def _dtype_text(network: object, dtype: str, fmt: str) -> str:
    from ..counting.dtypes import dtype_cost
    from ..report.tables import records, render

    cost = dtype_cost(network, dtype)  # type: ignore[arg-type]
    df = cost.table()
    if fmt == "json":
        return dump_json({**cost.to_dict(), "layers": records(df)}, indent=2)
    if fmt == "csv":
        return render(df, "csv")
    t = cost.dtype
    title = (
        f"{cost.network.name} at {t.name} (weights {t.weight_bits}-bit, biases {t.bias_bits}-bit, activations "
        f"{t.activation_bits}-bit; batch 1, batch norm folded)"
    )
    total = (
        f"Total: weights {cost.weight_bytes:,} B, peak live activations {cost.peak_live_activation_bytes:,} B "
        f"(at {cost.peak_layer}), peak memory {cost.peak_memory_bytes:,} B, activation traffic "
        f"{cost.activation_traffic_bytes:,} B; {cost.bops:,} BOPs = {cost.mult_adds:,} Mult-Adds x "
        f"{t.weight_bits} x {t.activation_bits} bits"
    )
    return render(df, fmt, title=title) + "\n\n" + total

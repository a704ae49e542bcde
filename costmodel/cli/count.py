"""``costmodel count``: per-layer parameters and Mult-Adds (or, with ``--memory``, memory) of one network.

The network is MobileNetV1 (``--alpha``, ``--resolution``...), a built-in network (``--network vgg16``,
``--network mobilenet_v2@160 --alpha 0.5``) or a JSON document (``--spec net.json``, schema in
:mod:`costmodel.spec.serialize`). A network with blocks (Inception, Fire, inverted residual) is shown nested: a
block's row carries its subtotal and its layers follow one level deeper, down to ``--depth`` levels.
"""

from __future__ import annotations

import argparse

from ..checks import dump_json
from ._common import (
    add_network_arguments,
    add_output_arguments,
    convention_help,
    emit,
    int_at_least,
    network_from_args,
    select_columns,
)

NAME = "count"
HELP = "per-layer parameters and Mult-Adds (or --memory) of MobileNetV1, a built-in network or a JSON spec"

#: The columns the memory view's table and Markdown forms show unless --wide or --columns says otherwise (all
#: of them: 261 characters); the count view (127) shows every column.
MEMORY_KEY_COLUMNS = (
    "name",
    "block",
    "input_elements",
    "output_elements",
    "weight_elements",
    "live_elements",
    "weight_bytes_float32",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    parser.add_argument("--convention", default="paper", help=convention_help())
    parser.add_argument("--formula", action="store_true", help="add each layer's formula with values substituted")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="memory view: per-layer activation and weight elements and bytes at float32/float16/int8, "
        "peak live activations and traffic",
    )
    parser.add_argument(
        "--depth",
        type=int_at_least(1, 64),
        default=None,
        help="levels of the nested view: 1 shows each block as one row with its subtotal (default: every level)",
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "float16", "int8"),
        help="costs at one data type: weight and activation bytes, peak memory and bit operations (BOPs = "
        "Mult-Adds x weight bits x activation bits); int8 is TFLite's scheme (int8 weights and activations, "
        "int32 biases)",
    )
    add_output_arguments(parser, columns=True)


def run(args: argparse.Namespace) -> int:
    from ..counting.engine import count
    from ..errors import ConventionError
    from ..report.tables import cost_tree_table, records, render

    if args.memory and (args.convention != "paper" or args.formula or args.depth is not None):
        given = [
            f
            for f, on in (
                ("--convention", args.convention != "paper"),
                ("--formula", args.formula),
                ("--depth", args.depth is not None),
            )
            if on
        ]
        raise ConventionError(
            f"--memory cannot be combined with {' or '.join(given)}: memory is counted one way (elements and bytes "
            "of activations and of the weights an inference runtime stores, batch norm folded) under every convention"
        )
    if args.dtype is not None and (args.memory or args.convention != "paper" or args.formula or args.depth):
        given = [
            f
            for f, on in (
                ("--memory", args.memory),
                ("--convention", args.convention != "paper"),
                ("--formula", args.formula),
                ("--depth", args.depth is not None),
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
        emit(_memory_text(network, args), args.out)
        return 0
    cost = count(network, args.convention)
    tree = cost_tree_table(cost, args.depth)
    if not args.formula:
        tree = tree.drop(columns="formula")
    if args.format == "json":
        flat = cost.table()
        if not args.formula:
            flat = flat.drop(columns="formula")
        doc = {
            "network": cost.network.name,
            "config": dict(cost.network.config),
            "convention": cost.convention.name,
            "mult_adds": cost.mult_adds,
            "flops": cost.flops,
            "params": cost.params,
            "layers": records(select_columns(flat, args)),
        }
        if "depth" in tree.columns:  # blocks: the nested view too, each block's row with its subtotal
            doc["tree"] = records(select_columns(tree, args))
        text = dump_json(doc, indent=2)
    elif args.format == "csv":
        text = render(select_columns(tree, args), "csv")
    else:
        title = f"{cost.network.name}, convention '{cost.convention.name}'"
        total = (
            f"Total: {cost.mult_adds:,} Mult-Adds ({cost.mult_adds / 1e6:,.2f} M; "
            f"FLOPs = 2 x Mult-Adds = {cost.flops:,}), {cost.params:,} parameters ({cost.params / 1e6:,.2f} M)"
        )
        text = render(_indented(select_columns(tree, args)), args.format, title=title) + "\n\n" + total
    emit(text, args.out)
    return 0


def _indented(df):  # type: ignore[no-untyped-def]
    """The text forms: each name indented two spaces per level below the top, the depth column dropped."""
    if "depth" not in df.columns:
        return df
    if "name" in df.columns:
        df = df.assign(name=["  " * (d - 1) + n for d, n in zip(df["depth"], df["name"], strict=True)])
    return df.drop(columns="depth")


def _memory_text(network: object, args: argparse.Namespace) -> str:
    from ..counting.memory import DTYPE_BYTES, memory
    from ..report.tables import memory_table, records, render

    fmt = args.format
    mem = memory(network)  # type: ignore[arg-type]
    df = select_columns(memory_table(mem), args, MEMORY_KEY_COLUMNS)
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

"""``costmodel tables``: the paper's Tables 1-9, published against computed, discrepancies flagged."""

from __future__ import annotations

import argparse

from ._common import add_output_arguments, emit

NAME = "tables"
HELP = "reproduce the paper's Tables 1-9: published vs computed, with the paper's errors flagged"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--table",
        type=int,
        nargs="+",
        action="extend",
        metavar="N",
        help="only these tables (1-9): --table 2 3 or --table 2 --table 3; each once (default: all)",
    )
    parser.add_argument(
        "--torchvision",
        action="store_true",
        help="instead: torchvision's documented parameters and GFLOPS (Mult-Adds) of the zoo, vs computed",
    )
    add_output_arguments(parser)


def _table1_view(df):  # type: ignore[no-untyped-def]
    """Table 1 as the paper prints it (one row per layer), with our value where it differs."""
    import pandas as pd

    rows = []
    for row, group in df.groupby("row", sort=False):
        cells = {q: p for q, p in zip(group["quantity"], group["published"], strict=True)}
        off = group[group["status"] != "match"]
        check = "; ".join(f"ours: {c}" for c in off["computed"]) if len(off) else "match"
        rows.append(
            {
                "row": row,
                "Type / Stride": cells["type_stride"],
                "Filter Shape": cells["filter_shape"],
                "Input Size": cells["input_size"],
                "check": check,
            }
        )
    return pd.DataFrame(rows)


def _notes(df) -> list[str]:  # type: ignore[no-untyped-def]
    flagged = df[df["status"] == "discrepancy"]
    return [
        f"[!] {r.row} / {r.quantity}: published {r.published}, computed {r.computed}. {r.note}"
        for r in flagged.itertuples()
    ]


def _extra_lines(table: int, df) -> list[str]:  # type: ignore[no-untyped-def]
    from fractions import Fraction

    from ..paper.tables import separable_savings

    lines = []
    if table == 1:
        lines.append(
            "The paper prints the 14x14x512 pair once with '5x'; rows 14-23 expand it. "
            "Layer 26 uses stride 1, as TF-slim and Keras do (see the flag)."
        )
    if table == 2:
        for q, label in (("mult_adds_pct", "Mult-Adds"), ("params_pct", "Parameters")):
            col = df[df["quantity"] == q]
            pub = sum(Fraction(p) for p in col["published"])
            comp = sum(Fraction(c) for c in col["computed"])
            lines.append(f"{label} column sums: published {float(pub):.2f} %, computed {float(comp):.2f} %.")
    if table == 3:
        s = separable_savings()
        per = s["per_block"]
        lo = [b for b, v in per.items() if v == s["min"]]
        hi = [b for b, v in per.items() if v == s["max"]]
        lines.append(
            "Section 3.1 claims 3x3 depthwise separable convolutions use '8 to 9 times less computation'. "
            f"Standard / separable Mult-Adds per block of MobileNet 1.0-224: {float(s['min']):.2f}x (block "
            f"{', '.join(map(str, lo))}) to {float(s['max']):.2f}x (blocks {', '.join(map(str, hi))}); "
            f"whole network (Conv MobileNet / MobileNet): {float(s['network']):.2f}x. "
            "Per layer the ratio is 1 / (1/N + 1/D_K^2)."
        )
    if table == 4:
        lines.append(
            "Mult-Adds and parameters in millions; the paper's convention: conv and FC weights, no biases "
            "or batch norm."
        )
    return lines


def _torchvision(args: argparse.Namespace) -> int:
    from ..paper.torchvision import TITLE, torchvision_table
    from ..report.tables import render

    df = torchvision_table()
    if args.format in ("csv", "json"):
        emit(render(df, args.format), args.out)
        return 0
    view = df[["network", "quantity", "unit", "published", "computed", "count", "status"]]
    matched = int((df["status"] == "match").sum())
    lines = [
        f"{len(df)} published numbers compared: {matched} match as torchvision rounds them "
        "(parameters exactly; _ops = round(Mult-Adds / 1e9, 3); the docs' GFLOPS column = _ops to 2 decimals).",
        *(f"{r.network}: {r.note}" for r in df[df["quantity"] == "ops"].itertuples()),
    ]
    emit(render(view, args.format, title=TITLE) + "\n\n" + "\n".join(lines), args.out)
    return 0


def run(args: argparse.Namespace) -> int:
    from ..paper.tables import TABLES, TITLES, all_tables
    from ..report.tables import render

    if args.torchvision:
        return _torchvision(args)

    tables = list(dict.fromkeys(args.table)) if args.table else list(TABLES)  # each once, in the order given
    df = all_tables(tables)  # validates the table numbers
    if args.format in ("csv", "json"):
        emit(render(df, args.format), args.out)
        return 0

    blocks = []
    for t in tables:
        part = df[df["table"] == t]
        if t == 1:
            view = _table1_view(part)
        else:
            view = part[["row", "quantity", "unit", "published", "computed", "difference", "status"]]
        body = render(view, args.format, title=TITLES[t], float_digits=2)
        lines = _notes(part) + _extra_lines(t, part)
        sep = "\n\n" if args.format == "markdown" else "\n"
        blocks.append(body + ("\n\n" + sep.join(lines) if lines else ""))

    compared = df[df["status"] != "published"]
    flagged = df[df["status"] == "discrepancy"]
    unexplained = flagged[flagged["note"] == "unexplained discrepancy"]
    summary = (
        f"{len(compared)} published numbers compared: {int((compared['status'] == 'match').sum())} match at the "
        f"printed precision, {len(flagged)} flagged as discrepancies ({len(flagged) - len(unexplained)} explained). "
        f"{int((df['status'] == 'published').sum())} accuracies are published data, shown, not computed."
    )
    emit("\n\n".join([*blocks, summary]), args.out)
    return 0

"""``costmodel card``: the TF-slim model card's MACs and params beside the spec's counts; the accuracy fit."""

from __future__ import annotations

import argparse

from ._common import add_output_arguments, emit, select_columns

NAME = "card"
HELP = "compare the TF-slim model card (16 models) with the spec's counts; log-linear accuracy fit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fit", action="store_true", help="print the log-linear fit and its residuals instead")
    add_output_arguments(parser, columns=True)


#: The columns of the table and Markdown forms unless --wide or --columns says otherwise (the notes make the
#: table 382 characters wide).
KEY_COLUMNS = ("model", "quantity", "published", "computed", "paper_1001", "explained_by", "status")


def run(args: argparse.Namespace) -> int:
    from ..paper.accuracy import card_comparison, card_summary, loglinear_fit
    from ..report.tables import render

    if args.fit:
        parts = []
        for x in ("mult_adds", "params"):
            fit = loglinear_fit(x)
            parts.append(render(fit.residuals, args.format, title=fit.describe()))
        emit("\n\n".join(parts), args.out)
        return 0
    df = card_comparison()
    title = "TF-slim model card vs the spec (millions)"
    text = render(select_columns(df, args, KEY_COLUMNS), args.format, title=title, float_digits=3)
    if args.format in ("table", "markdown"):
        text += "\n\n" + "\n".join(f"{q}: {s}" for q, s in card_summary(df).items())
    emit(text, args.out)
    return 0

"""``costmodel plot``: write the paper's Figures 4-5, the α x ρ Mult-Adds heatmap, parameters over α and Table 3's
layer comparison."""

from __future__ import annotations

import argparse

NAME = "plot"
RESULT = False  # it writes figures into a folder
OUT_IS_FOLDER = True  # main() checks --out as a folder before anything is computed
HELP = "write Figures 4-5, the alpha x rho Mult-Adds heatmap, parameters over alpha and Table 3's layers as PNG and SVG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder to write the figures into (created if missing)")
    parser.add_argument(
        "--formats", nargs="+", choices=("png", "svg", "pdf"), default=["png", "svg"], help="file formats"
    )


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    from ..paper.figures import all_figures, save_all

    figures = all_figures()  # computed before anything is written
    for path in save_all(figures, args.out, list(dict.fromkeys(args.formats))):  # every file or none
        print(path)
    return 0

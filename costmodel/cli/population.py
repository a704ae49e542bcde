"""``costmodel population``: cost a sampled population of a built-in search space, one row per candidate.

Each row is a candidate: its index in the sample, its cost columns (:meth:`PopulationCost.columns`: Mult-Adds,
parameters, peak activation bytes, the resolution, and with ``--profile`` the predicted seconds) and the values
of its genes (blank where the candidate's stage depth leaves a block out). ``--front`` keeps the candidates on
the Pareto front of the named columns (lower is better; ``--maximize`` names the ones where higher is).
"""

from __future__ import annotations

import argparse

from ._common import (
    FORMATS,
    add_output_arguments,
    column_names,
    convention_help,
    count_argument,
    emit,
    int_at_least,
    positive_int,
    select_columns,
)

NAME = "population"
HELP = "cost a sampled population of a search space (Mult-Adds, params, memory, predicted latency) as a table"

#: The largest population on the command line: ten million candidates of 50 int8 genes is 0.5 GB of genes alone.
MAX_CANDIDATES = 10_000_000

#: The formats a --out file's suffix selects when --format is not given.
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".md": "markdown", ".parquet": "parquet", ".txt": "table"}

#: The columns the table and Markdown forms show unless --wide or --columns says otherwise (genes are many).
KEY_COLUMNS = ("candidate", "resolution", "mult_adds", "params", "peak_activation_bytes", "latency_s")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..search.spaces import SPACES

    parser.add_argument("--space", required=True, choices=list(SPACES), help="a built-in search space")
    parser.add_argument("--n", required=True, type=count_argument, help="candidates to sample: 1000, 10K, 1M")
    parser.add_argument("--seed", type=int_at_least(0, 2**63 - 1), default=0, help="seed of the sample (default 0)")
    parser.add_argument("--resolution", type=positive_int, default=224, help="input resolution (default 224)")
    parser.add_argument("--convention", default="paper", help=convention_help())
    parser.add_argument(
        "--profile", help="device profile (.json or .toml, from 'costmodel calibrate'): adds latency_s, predicted"
    )
    parser.add_argument(
        "--front",
        metavar="COL,COL",
        help="keep only the Pareto front of these columns, e.g. latency_s,mult_adds (lower is better)",
    )
    parser.add_argument(
        "--maximize", metavar="COL,COL", help="with --front: the columns where higher is better (e.g. mult_adds)"
    )
    add_output_arguments(parser, default=None, columns=True, formats=(*FORMATS, "parquet"))  # type: ignore[arg-type]


def _format(args: argparse.Namespace) -> str:
    """--format, else the --out file's suffix, else an aligned table."""
    from pathlib import Path

    from ..errors import InputError

    fmt = args.format
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(Path(args.out).suffix.lower(), "table") if args.out else "table"
    if fmt == "parquet":
        if args.out is None:
            raise InputError("--format parquet writes a binary file: give --out FILE.parquet")
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise InputError("writing parquet needs pyarrow, which is not installed: pip install 'costmodel[parquet]'")
    return fmt


def _names(text: str | None, option: str, columns: list[str]) -> list[str]:
    from ..errors import InputError

    if text is None:
        return []
    names = [c.strip() for c in text.split(",")]
    bad = [repr(c) if not c.isprintable() or not c else c for c in names if c not in columns]
    if bad:
        raise InputError(f"{option}: no cost column {', '.join(bad)}; choose from {', '.join(columns)}")
    return names


#: Bytes a table cell takes while the table is built and written (measured: a million OFA candidates, 51 columns,
#: peak 1.05 GB; the text of a CSV comes on top, about 2 bytes a cell).
CELL_BYTES = 24


def _check_table_memory(rows: int, columns: int) -> None:
    """Refuse a table estimated to need more than the memory limit ($COSTMODEL_MEMORY_LIMIT, default 4 GiB)."""
    from ..errors import InputError
    from ..reference.limits import MEMORY_LIMIT_VARIABLE, memory_limit

    needed, limit = rows * columns * CELL_BYTES, memory_limit()
    if needed > limit:
        raise InputError(
            f"a table of {rows:,} candidates x {columns} columns needs about {needed / 2**30:.1f} GiB, over the "
            f"memory limit of {limit / 2**30:.1f} GiB (${MEMORY_LIMIT_VARIABLE}); lower --n, or keep a Pareto front "
            "with --front"
        )


def run(args: argparse.Namespace) -> int:
    from ..counting.conventions import get_convention
    from ..errors import InputError
    from ..search.spaces import search_space

    fmt = _format(args)
    args.format = fmt  # the narrow view follows the chosen format
    if args.n > MAX_CANDIDATES:
        raise InputError(f"--n must be at most {MAX_CANDIDATES:,}, got {args.n:,}")
    get_convention(args.convention)  # a bad convention fails before anything is built
    cost_columns = ["mult_adds", "params", "peak_activation_bytes", "resolution"] + (
        ["latency_s"] if args.profile else []
    )
    front = _names(args.front, "--front", cost_columns)
    maximize = _names(args.maximize, "--maximize", cost_columns)
    if maximize and not front:
        raise InputError("--maximize needs --front (the columns of the Pareto front)")
    if set(maximize) - set(front):
        raise InputError(f"--maximize {args.maximize}: every column must be one of --front's")
    space = search_space(args.space)
    column_names(args, ["candidate", *cost_columns, *(g.name for g in space.genes)])  # before any costing
    if not front:  # every candidate is a row: check the table's memory before anything is sampled
        _check_table_memory(args.n, len(cost_columns) + 1 + space.num_genes)
    profile = None
    if args.profile is not None:
        from ..latency.profiles import load_profile

        profile = load_profile(args.profile)
    genes = space.sample(args.n, seed=args.seed)
    from ..search.population import cost_population

    pop = cost_population(space, genes, resolution=args.resolution, convention=args.convention, profile=profile)
    rows = None
    if front:
        from ..search.pareto import pareto_front

        rows = pareto_front(pop, front, maximize=maximize)
    _check_table_memory(len(pop) if rows is None else len(rows), len(cost_columns) + 1 + space.num_genes)
    df = select_columns(pop.table(genes=genes, space=space, rows=rows), args, KEY_COLUMNS)
    if fmt == "parquet":
        from .._files import atomic_write

        atomic_write(args.out, lambda f: df.to_parquet(f, index=False))
        return 0
    from ..report.tables import render

    title = f"{space.label}: {len(df):,} of {args.n:,} candidates (seed {args.seed}, resolution {args.resolution})"
    emit(render(df, fmt, title=title, float_digits=6), args.out)
    return 0

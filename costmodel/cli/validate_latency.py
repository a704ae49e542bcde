"""``costmodel validate-latency``: predicted vs measured latency on the 16 held-out MobileNets."""

from __future__ import annotations

import argparse
import sys

from ..checks import dump_json
from ._common import add_format_argument, add_threads_argument, apply_threads, emit, positive_int
from .calibrate import BLAS_THREADS_WHY

NAME = "validate-latency"
HELP = "compare predicted and measured latency on the 16 held-out (alpha, resolution) configurations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        help="device profile to check (.json/.toml); without one, 'costmodel calibrate' runs first",
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=7, help="timed passes per configuration and round (default 7)"
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=5, help="round-robin rounds; the fastest round counts (default 5)"
    )
    parser.add_argument("--plots", metavar="DIR", help="also write the two figures (PNG) into this folder")
    add_threads_argument(parser, 1, BLAS_THREADS_WHY)
    add_format_argument(parser)
    parser.add_argument("--out", help="write to this file instead of standard output")


def run(args: argparse.Namespace) -> int:
    from ..latency.profiles import load_profile

    profile = load_profile(args.profile) if args.profile is not None else None  # bad input fails before measuring
    apply_threads(args.threads)
    from ..latency.calibrate import calibrate
    from ..latency.report import profile_summary, validation_summary
    from ..latency.validate import validate
    from ..report.tables import records, render

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if profile is None:
        profile = calibrate(progress=progress)
    result = validate(profile, repeats=args.repeats, rounds=args.rounds, progress=progress)
    configs, kinds = result.tables()
    if args.plots:
        from ..latency.plots import save_latency_plots

        for path in save_latency_plots(result, args.plots):
            progress(f"wrote {path}")
    if args.format == "json":
        text = dump_json(
            {
                "profile": profile.to_dict(),
                "median_abs_error_pct": result.median_abs_error_pct,
                "max_abs_error_pct": result.max_abs_error_pct,
                "spearman": result.spearman,
                "kendall_tau": result.kendall_tau,
                "mult_adds_spearman": result.mult_adds_spearman,
                "fitted_on_held_out": list(result.fitted_on_held_out),
                "configs": records(configs),
                "kinds": records(kinds),
            },
            indent=2,
        )
    elif args.format == "csv":
        text = render(configs, "csv")
    else:
        text = "\n\n".join(
            [
                profile_summary(profile),
                render(configs, args.format, title="Per configuration (batch 1)"),
                render(kinds, args.format, title="Per layer type (summed over the configurations)"),
                validation_summary(result),
            ]
        )
    emit(text, args.out)
    return 0

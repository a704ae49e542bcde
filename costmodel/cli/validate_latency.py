"""``costmodel validate-latency``: predicted vs measured latency on held-out networks, per runtime."""

from __future__ import annotations

import argparse
import math
import sys

from ..checks import dump_json
from ._common import add_format_argument, add_threads_argument, apply_threads, emit
from .calibrate import BLAS_THREADS_WHY, add_measurement_arguments, add_runtime_argument

NAME = "validate-latency"
HELP = "compare predicted and measured latency on held-out networks (the 16 MobileNets of Tables 6-7 and more)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        help="device profile to check (.json/.toml); without one, 'costmodel calibrate' runs first",
    )
    add_runtime_argument(parser, default=None)
    parser.add_argument(
        "--network",
        action="append",
        default=[],
        metavar="NAME",
        help="check this built-in network instead of the held-out MobileNets (repeatable; with --spec)",
    )
    parser.add_argument(
        "--spec", action="append", default=[], metavar="FILE", help="check this JSON network (repeatable)"
    )
    add_measurement_arguments(parser)
    parser.add_argument("--plots", metavar="DIR", help="also write the two figures (PNG) into this folder")
    add_threads_argument(parser, 1, BLAS_THREADS_WHY)
    add_format_argument(parser)
    parser.add_argument("--out", help="write to this file instead of standard output")


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import CostModelError, ProfileError
    from ..latency.profiles import load_profile

    profile = load_profile(args.profile) if args.profile is not None else None  # bad input fails before measuring
    runtime = args.runtime or (profile.runtime if profile is not None else "numpy")
    if profile is not None and args.runtime and args.runtime != profile.runtime:
        raise ProfileError(
            f"--runtime {args.runtime} does not match the profile's runtime {profile.runtime!r} ({args.profile})"
        )
    networks = None
    if args.network or args.spec:
        from ..spec.network import Network
        from ..spec.zoo import network

        networks = [network(name) for name in args.network] + [Network.load(path) for path in args.spec]
    if args.plots:  # created now, as 'plot' does, so that a bad folder fails before measuring
        try:
            Path(args.plots).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CostModelError(f"cannot write plots into {args.plots!r}: {exc.strerror or exc}") from None
    apply_threads(args.threads if runtime == "numpy" else 1)
    from ..latency.calibrate import calibrate
    from ..latency.report import profile_summary, validation_summary
    from ..latency.validate import validate
    from ..report.tables import records, render

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if profile is None:
        profile = calibrate(runtime=runtime, threads=max(args.threads, 1), progress=progress)
    if profile.runtime not in ("numpy", "onnxruntime"):
        raise ProfileError(f"profile {profile.name!r}: cannot measure runtime {profile.runtime!r} here")
    result = validate(
        profile,
        networks=networks,
        runtime=runtime,
        threads=max(args.threads, 1),
        repeats=args.repeats,
        rounds=args.rounds,
        progress=progress,
    )
    configs, kinds = result.tables()
    if args.plots:
        from ..latency.plots import save_latency_plots

        for path in save_latency_plots(result, args.plots):
            progress(f"wrote {path}")
    if args.format == "json":
        accuracy, pairs = result.pairwise_accuracy
        baseline = result.baseline()
        text = dump_json(
            {
                "runtime": runtime,
                "networks": len(result.configs),
                "median_abs_error": result.median_abs_error,
                "within_10_percent": result.within_10_percent,
                "spearman": _finite(result.spearman),
                "max_abs_error": result.max_abs_error_pct / 100.0,
                "kendall_tau": _finite(result.kendall_tau),
                "pairwise_accuracy": _finite(accuracy),
                "close_pairs": pairs,
                "mult_adds_spearman": _finite(result.mult_adds_spearman),
                "mult_adds_pairwise_accuracy": _finite(result.mult_adds_pairwise_accuracy),
                "mult_adds_baseline": None if baseline is None else {k: _finite(v) for k, v in baseline.items()},
                "fitted_on_held_out": list(result.fitted_on_held_out),
                "profile": profile.to_dict(),
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
                render(configs, args.format, title="Per network (batch 1)"),
                render(kinds, args.format, title="Per layer kind (summed over the networks)"),
                validation_summary(result),
            ]
        )
    emit(text, args.out)
    return 0

"""``costmodel calibrate``: measure this machine and write a latency profile (JSON)."""

from __future__ import annotations

import argparse
import sys

from ..checks import dump_json
from ..errors import ProfileError
from ._common import add_threads_argument, apply_threads, int_at_least, positive_int

#: Why the latency commands measure on one BLAS thread by default.
BLAS_THREADS_WHY = ": on a shared machine a multi-threaded matrix product stalls whenever another process takes a core"

NAME = "calibrate"
HELP = "measure this machine (micro-benchmarks + per-layer timings) and write a latency profile"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="write the profile (JSON) to this file instead of standard output")
    parser.add_argument(
        "--repeats", type=positive_int, default=7, help="timed passes per configuration and round (default 7)"
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=5, help="round-robin rounds; the fastest round counts (default 5)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small micro-benchmarks and 2 fitting configurations (a rough profile)",
    )
    parser.add_argument(
        "--seed",
        type=int_at_least(0, 2**63 - 1),
        default=0,
        help="seed of the weights and the random image (default 0)",
    )
    parser.add_argument(
        "--statistic",
        choices=("min", "median"),
        default="min",
        help="summary of the timed passes: the fastest pass (default; reproducible on a busy machine) or the "
        "median; validation uses the profile's",
    )
    add_threads_argument(parser, 1, BLAS_THREADS_WHY)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.out and not Path(args.out).parent.is_dir():  # fail before measuring, not after
        raise ProfileError(f"cannot write profile {args.out!r}: folder {str(Path(args.out).parent)!r} does not exist")
    apply_threads(args.threads)
    from ..latency.calibrate import FIT_CONFIGS, calibrate
    from ..latency.profiles import save_profile

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    quick = {"matmul_n": 512, "copy_bytes": 32 * 2**20, "min_seconds": 0.05, "configs": FIT_CONFIGS[:2]}
    options = quick if args.quick else {}
    profile = calibrate(
        repeats=args.repeats,
        rounds=args.rounds,
        seed=args.seed,
        statistic=args.statistic,
        progress=progress,
        **options,
    )
    if args.out:
        path = save_profile(profile, args.out)
        progress(f"wrote {path}")
    else:
        sys.stdout.write(dump_json(profile.to_dict(), indent=2) + "\n")
    return 0

"""``costmodel calibrate``: measure this machine and write a latency profile (JSON)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import ProfileError

#: Environment variables that set the BLAS / OpenMP thread count; read once, when NumPy loads its BLAS.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

NAME = "calibrate"
HELP = "measure this machine (micro-benchmarks + per-layer timings) and write a latency profile"


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads for the measurements (default 1: on a shared machine a multi-threaded matrix "
        "product stalls whenever another process takes a core; 0 keeps the environment's setting)",
    )


def apply_threads(args: argparse.Namespace) -> None:
    """Set the BLAS thread count for this process from ``--threads``, before NumPy is imported.

    NumPy's BLAS reads the thread count once, when it loads; if NumPy is already loaded (``main()`` called
    from a Python session) the setting cannot change any more and a note says so on stderr.
    """
    if args.threads < 0:
        raise ProfileError(f"--threads must be >= 0, got {args.threads}")
    if args.threads == 0:
        return
    if "numpy" in sys.modules and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        print(f"note: NumPy is already loaded; --threads {args.threads} has no effect", file=sys.stderr)
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(args.threads)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="write the profile (JSON) to this file instead of standard output")
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed passes per configuration and round (default 7)"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="round-robin rounds; the fastest round counts (default 5)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small micro-benchmarks and 2 fitting configurations (a rough profile)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the weights and the random image (default 0)"
    )
    parser.add_argument(
        "--statistic",
        choices=("min", "median"),
        default="min",
        help="summary of the timed passes: the fastest pass (default; reproducible on a busy machine) or the "
        "median; validation uses the profile's",
    )
    add_threads_argument(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.out and not Path(args.out).parent.is_dir():  # fail before measuring, not after
        raise ProfileError(
            f"cannot write profile {args.out!r}: folder {str(Path(args.out).parent)!r} does not exist"
        )
    apply_threads(args)
    from ..calibrate import FIT_CONFIGS, calibrate
    from ..profiles import save_profile

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
        sys.stdout.write(json.dumps(profile.to_dict(), indent=2) + "\n")
    return 0

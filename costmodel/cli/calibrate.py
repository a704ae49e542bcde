"""``costmodel calibrate``: measure this machine with a runtime and write a latency profile (JSON)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..checks import dump_json
from ..errors import ProfileError
from ._common import add_threads_argument, apply_threads, int_at_least, network_from_value, network_help, positive_int

#: Why the latency commands measure on one thread by default.
BLAS_THREADS_WHY = (
    ": on a shared machine a multi-threaded matrix product stalls whenever another process takes a core; "
    "with --runtime onnxruntime, ONNX Runtime's intra-op threads, spinning off"
)
RUNTIME_HELP = (
    "what measures the layers: numpy (the reference executor, default) or onnxruntime (the exported model in "
    "ONNX Runtime, per node from its profiler; needs the [onnx] extra)"
)

NAME = "calibrate"
RESULT = False  # it writes a device profile (JSON), not a table: no --format
HELP = "measure this machine (micro-benchmarks + per-layer timings with a runtime) and write a latency profile"


#: What each runtime needs installed beyond the core, and the extra that installs it.
RUNTIME_PACKAGES = {"numpy": (), "onnxruntime": ("onnx", "onnxruntime")}


def add_runtime_argument(parser: argparse.ArgumentParser, default: str | None = "numpy") -> None:
    parser.add_argument("--runtime", choices=tuple(RUNTIME_PACKAGES), default=default, help=RUNTIME_HELP)


def check_runtime_installed(runtime: str) -> None:
    """Fail before measuring anything when ``runtime`` needs a package that is not installed."""
    import importlib.util

    missing = [name for name in RUNTIME_PACKAGES.get(runtime, ()) if importlib.util.find_spec(name) is None]
    if missing:
        raise ProfileError(
            f"--runtime {runtime} needs {' and '.join(missing)}, which is not installed: pip install 'costmodel[onnx]'"
        )


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress lines on standard error")


def progress_printer(args: argparse.Namespace) -> Any:
    """The progress callback: one line per step on standard error, or nothing with --quiet."""

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    return progress


def add_measurement_arguments(parser: argparse.ArgumentParser) -> None:
    """--repeats and --rounds: how many passes per network and round, and how many interleaved rounds."""
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=None,
        help="timed passes per network and round (default 7 with numpy, 20 with onnxruntime)",
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=5, help="round-robin rounds; the best round counts (default 5)"
    )


#: Most candidates --candidates takes: each one is built and measured (--repeats x --rounds passes), so even this
#: many is days of measuring; a larger request is surely a typo, refused with the number typed.
MAX_CANDIDATES = 100_000


def add_space_arguments(parser: argparse.ArgumentParser, candidates_help: str) -> None:
    """--space NAME and --candidates N: sample candidates of a built-in search space."""
    from ..search.spaces import SPACES

    parser.add_argument(
        "--space",
        choices=list(SPACES),
        default=None,
        help="a built-in search space (costmodel.search_space): its candidates, sampled at random",
    )
    parser.add_argument(
        "--candidates",
        type=int_at_least(1, MAX_CANDIDATES),
        default=None,
        help=f"{candidates_help}; at most {MAX_CANDIDATES:,}",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="write the profile (JSON) to this file instead of standard output")
    add_runtime_argument(parser)
    parser.add_argument(
        "--fit-network",
        "--network",
        dest="fit_network",
        action="append",
        default=[],
        metavar="NAME[@RES]|FILE",
        help="also fit on this network, to calibrate layer kinds MobileNetV1 does not have; repeatable; a JSON spec "
        "file, or " + network_help(multiple=True),
    )
    parser.add_argument(
        "--spec",
        dest="fit_spec",
        action="append",
        default=[],
        metavar="FILE",
        help="also fit on this network document (JSON); repeatable",
    )
    parser.add_argument(
        "--zoo",
        action="store_true",
        help="also fit on the zoo's other ten networks at 160 (MobileNetV2/V3, MNASNet, EfficientNet-B0, GoogLeNet, "
        "the SqueezeNets, AlexNet, VGG16; what 'validate-latency --zoo' checks at 224); adds minutes",
    )
    add_space_arguments(parser, "fit also on this many candidates sampled from the space (default 16)")
    add_measurement_arguments(parser)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small micro-benchmarks and 2 fitting configurations (a rough profile)",
    )
    parser.add_argument(
        "--seed",
        type=int_at_least(0, 2**63 - 1),
        default=0,
        help="seed of the weights, the random image and the sampled --space candidates (default 0)",
    )
    parser.add_argument(
        "--statistic",
        choices=("min", "median"),
        default="min",
        help="numpy: summary of the timed passes, the fastest pass (default; reproducible on a busy machine) or "
        "the median; validation uses the profile's",
    )
    add_threads_argument(parser, 1, BLAS_THREADS_WHY)
    add_quiet_argument(parser)


def fit_networks(names: list[str]) -> list:
    """Networks from ``--fit-network`` values: a JSON spec file if the value ends in .json, else a zoo name,
    optionally at a resolution (``mobilenet_v2@160``), read as every command reads ``--network``."""
    return [network_from_value(value, "--fit-network") for value in names]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.out:  # fail before measuring, not after
        out = Path(args.out)
        if out.suffix.lower() != ".json":
            raise ProfileError(f"cannot write profile {args.out!r}: profiles are written as JSON; use a .json name")
        if not out.parent.is_dir():
            raise ProfileError(f"cannot write profile {args.out!r}: folder {str(out.parent)!r} does not exist")
    if args.seed < 0:
        raise ProfileError(f"--seed must be >= 0, got {args.seed}")
    if args.candidates is not None and args.space is None:
        raise ProfileError("--candidates needs --space NAME (the search space to sample them from)")
    check_runtime_installed(args.runtime)  # before the micro-benchmarks, not after
    extra = fit_networks(args.fit_network)
    if args.fit_spec:
        from ..spec.network import Network

        extra += [Network.load(path) for path in args.fit_spec]
    if args.zoo:
        from ..latency.calibrate import ZOO_FIT_RESOLUTION, zoo_networks

        extra += zoo_networks(ZOO_FIT_RESOLUTION)
    apply_threads(args.threads if args.runtime == "numpy" else 1)
    from ..latency.calibrate import FIT_CONFIGS_BY_RUNTIME, calibrate
    from ..latency.profiles import save_profile

    progress = progress_printer(args)
    configs = FIT_CONFIGS_BY_RUNTIME[args.runtime]
    quick = {"matmul_n": 512, "copy_bytes": 32 * 2**20, "min_seconds": 0.05, "configs": configs[:2]}
    options: dict[str, Any] = quick if args.quick else {}
    common: dict[str, Any] = {
        "runtime": args.runtime,
        "networks": extra,
        "threads": max(args.threads, 1),
        "repeats": args.repeats,
        "rounds": args.rounds,
        "seed": args.seed,
        "statistic": args.statistic,
        "progress": progress,
    }
    if args.space is not None:
        from ..search.latency import DEFAULT_FIT_CANDIDATES, calibrate_space
        from ..search.spaces import search_space

        n = DEFAULT_FIT_CANDIDATES if args.candidates is None else args.candidates
        profile = calibrate_space(search_space(args.space), candidates=n, **common, **options)
    else:
        profile = calibrate(**common, **options)
    if args.out:
        path = save_profile(profile, args.out)
        progress(f"wrote {path}")
    else:
        sys.stdout.write(dump_json(profile.to_dict(), indent=2) + "\n")
    return 0

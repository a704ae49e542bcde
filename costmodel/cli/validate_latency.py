"""``costmodel validate-latency``: predicted vs measured latency on held-out networks, per runtime."""

from __future__ import annotations

import argparse
import math

from ..checks import dump_json
from ._common import (
    add_output_arguments,
    add_threads_argument,
    apply_threads,
    emit,
    int_at_least,
    network_from_value,
    network_help,
)
from .calibrate import (
    BLAS_THREADS_WHY,
    add_measurement_arguments,
    add_quiet_argument,
    add_runtime_argument,
    add_space_arguments,
    check_runtime_installed,
    progress_printer,
)

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
        metavar="NAME[@RES]",
        help="check this instead of the held-out MobileNets (with --spec): " + network_help(multiple=True),
    )
    parser.add_argument(
        "--spec", action="append", default=[], metavar="FILE", help="check this JSON network (repeatable)"
    )
    parser.add_argument(
        "--zoo",
        action="store_true",
        help="also check the zoo's other ten networks at 224 (with the held-out MobileNets, or with --network/--spec); "
        "calibrate with 'calibrate --zoo', which fits them at 160",
    )
    add_space_arguments(parser, "with --space: held-out candidates to check (default 30)")
    parser.add_argument(
        "--twins",
        type=int_at_least(0, 10**6),
        default=None,
        help="with --space: held-out candidates whose all-3x3 and all-7x7 twins are measured too (default 10)",
    )
    parser.add_argument(
        "--seed",
        type=int_at_least(0, 2**63 - 1),
        default=None,
        help="with --space: seed of the held-out candidates (default the profile's fitting seed + 1; fitting "
        "candidates are dropped by canonical key whatever the seed)",
    )
    add_measurement_arguments(parser)
    parser.add_argument("--plots", metavar="DIR", help="also write the two figures (PNG) into this folder")
    add_threads_argument(parser, 1, BLAS_THREADS_WHY)
    add_quiet_argument(parser)
    add_output_arguments(parser)


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
    if args.space is not None and (args.network or args.spec or args.zoo):
        raise ProfileError(
            "--space checks sampled candidates of a space; it does not combine with --network/--spec/--zoo"
        )
    if args.space is None:
        for flag, value in (("--candidates", args.candidates), ("--twins", args.twins), ("--seed", args.seed)):
            if value is not None:
                raise ProfileError(f"{flag} needs --space NAME (the search space to sample held-out candidates from)")
    space = None
    if args.space is not None:
        from ..search.spaces import search_space

        space = search_space(args.space)
    networks = None
    if args.network or args.spec:
        from ..spec.network import Network

        networks = [network_from_value(name) for name in args.network] + [Network.load(path) for path in args.spec]
    if args.zoo:
        from ..latency.calibrate import ZOO_HELD_OUT_RESOLUTION, zoo_networks
        from ..latency.validate import held_out_networks

        networks = (held_out_networks() if networks is None else networks) + zoo_networks(ZOO_HELD_OUT_RESOLUTION)
    if args.plots:  # created now, as 'plot' does, so that a bad folder fails before measuring
        try:
            Path(args.plots).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CostModelError(f"cannot write plots into {args.plots!r}: {exc.strerror or exc}") from None
    check_runtime_installed(runtime)
    if profile is not None and space is None:  # every kind the networks need is in the profile: checked before timing
        from ..latency.model import predict
        from ..latency.validate import held_out_networks

        for net in held_out_networks() if networks is None else networks:
            predict(net, profile)
    apply_threads(args.threads if runtime == "numpy" else 1)
    from ..latency.calibrate import calibrate
    from ..latency.report import profile_summary, validation_summary
    from ..latency.validate import validate
    from ..report.tables import records, render

    progress = progress_printer(args)
    if profile is None:
        if space is not None:
            from ..search.latency import calibrate_space

            profile = calibrate_space(space, runtime=runtime, threads=max(args.threads, 1), progress=progress)
        else:
            profile = calibrate(runtime=runtime, threads=max(args.threads, 1), progress=progress)
    if profile.runtime not in ("numpy", "onnxruntime"):
        raise ProfileError(f"profile {profile.name!r}: cannot measure runtime {profile.runtime!r} here")
    checked = None
    if space is not None:
        from ..search.latency import DEFAULT_HELD_OUT, DEFAULT_TWINS, validate_space

        checked = validate_space(
            profile,
            space,
            candidates=DEFAULT_HELD_OUT if args.candidates is None else args.candidates,
            twins=DEFAULT_TWINS if args.twins is None else args.twins,
            seed=args.seed,
            runtime=runtime,
            threads=max(args.threads, 1),
            repeats=args.repeats,
            rounds=args.rounds,
            progress=progress,
        )
        result = checked.result
    else:
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
                "search_space": None if checked is None else checked.to_dict(),
            },
            indent=2,
        )
    elif args.format == "csv":
        text = render(configs, "csv")
    else:
        parts = [
            profile_summary(profile),
            render(configs, args.format, title="Per network (batch 1)"),
            render(kinds, args.format, title="Per layer kind (summed over the networks)"),
        ]
        if checked is not None and checked.twins:
            parts.append(render(checked.twin_table(), args.format, title="Kernel twins: all-3x3 vs all-7x7 (batch 1)"))
        parts.append(validation_summary(result))
        if checked is not None:
            parts.append(checked.summary())
        text = "\n\n".join(parts)
    emit(text, args.out)
    return 0

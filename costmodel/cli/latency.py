"""``costmodel latency``: predicted per-layer and total latency of one network on a device profile."""

from __future__ import annotations

import argparse
import sys

from ..checks import dump_json
from ._common import (
    add_network_arguments,
    add_output_arguments,
    add_threads_argument,
    apply_threads,
    emit,
    network_from_args,
    positive_int,
)

#: Why one thread by default (latency has no --runtime: it predicts, and measures only an uncalibrated roofline).
LATENCY_THREADS_WHY = (
    ": on a shared machine a multi-threaded matrix product stalls whenever another process takes a core"
)

NAME = "latency"
HELP = "predicted per-layer latency (roofline: compute- or memory-bound) beside Mult-Adds"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    parser.add_argument(
        "--profile",
        help="device profile (.json or .toml, e.g. from 'costmodel calibrate'); without one, peak FLOP/s and "
        "bandwidth are measured now and every layer is extrapolated at efficiency 1 (a pure roofline: a lower "
        "bound)",
    )
    parser.add_argument("--batch", type=positive_int, default=1, help="images per forward pass (default 1)")
    add_threads_argument(parser, 1, LATENCY_THREADS_WHY)
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    apply_threads(args.threads)  # before NumPy loads
    from ..latency.model import predict
    from ..latency.profiles import DeviceProfile, load_profile
    from ..latency.report import prediction_summary, prediction_table, profile_summary
    from ..report.tables import records, render

    network = network_from_args(args)
    if args.batch < 1 or isinstance(args.batch, bool):
        from ..errors import SpecError

        raise SpecError(f"--batch must be a positive integer, got {args.batch}")
    if args.profile is not None:
        profile = load_profile(args.profile)
    else:
        from ..latency.calibrate import measure_bandwidth, measure_peak_flops

        print(
            "costmodel latency: no --profile; measuring peak FLOP/s and bandwidth (every efficiency 1, no overhead)",
            file=sys.stderr,
        )
        profile = DeviceProfile(
            measure_peak_flops(), measure_bandwidth(), default_efficiency=1.0, name="uncalibrated roofline"
        )
    pred = predict(network, profile, batch=args.batch)
    df = prediction_table(pred)
    if args.format == "json":
        text = dump_json(
            {
                "network": network.name,
                "config": dict(network.config),
                "profile": profile.to_dict(),
                "batch": pred.batch,
                "mult_adds": pred.mult_adds,
                "predicted_seconds": pred.seconds,
                "predicted_seconds_by_kind": pred.by_kind(),
                "extrapolated": pred.extrapolated,
                "layers": records(df),
            },
            indent=2,
        )
    elif args.format == "csv":
        text = render(df, "csv")
    else:
        title = f"{network.name}: predicted latency\n{profile_summary(profile)}"
        text = render(df, args.format, title=title, float_digits=3) + "\n\n" + prediction_summary(pred)
    emit(text, args.out)
    return 0

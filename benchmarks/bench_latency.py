"""Validation report of the roofline latency model on this machine, in one run.

    python benchmarks/bench_latency.py [--threads 1] [--repeats 7] [--rounds 5] [--plots DIR]

Two protocols, side by side:

- **sequential**, what a user does: ``calibrate()`` (micro-benchmarks + per-layer fit on the fitting
  configurations; timed, target < 1 minute), then ``validate()`` on the 16 held-out MobileNets
  (α ∈ {1.0, 0.75, 0.5, 0.25} x resolution ∈ {224, 192, 160, 128}). On a shared machine the load from other
  processes can change between the two, and that drift shows up as error.
- **interleaved**, the model's own error: the fitting and the held-out networks are measured in the same
  round-robin rounds (so under the same conditions), the profile is fitted on the fitting networks only and
  checked on the held-out ones. Same data split, same code; only the timing of the measurements differs.

Beside the model, the baseline a search tool would use without one: latency proportional to Mult-Adds, the
constant fitted on the same fitting networks (median of seconds per Mult-Add).

Prints per-configuration and per-layer-type tables (interleaved protocol), then median |error| and rank
correlations for every protocol and predictor. Targets: median |error| < 15 %, Spearman >= 0.95.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1; 0: the environment's)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--statistic", choices=("min", "median"), default="min")
    parser.add_argument("--plots", metavar="DIR", help="write the two figures into this folder")
    args = parser.parse_args()
    if args.threads > 0:  # before NumPy loads its BLAS
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)

    import numpy as np

    from costmodel import count, mobilenet_v1
    from costmodel.latency.calibrate import FIT_CONFIGS, calibrate, fit_profile, measure_networks
    from costmodel.latency.report import profile_summary, validation_summary
    from costmodel.latency.validate import HELD_OUT, compare, kendall_tau, spearman, validate
    from costmodel.report.tables import render

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    start = time.perf_counter()
    profile = calibrate(repeats=args.repeats, rounds=args.rounds, progress=progress, statistic=args.statistic)
    calibrate_s = time.perf_counter() - start
    start = time.perf_counter()
    sequential = validate(
        profile, repeats=args.repeats, rounds=args.rounds, progress=progress, statistic=args.statistic
    )
    validate_s = time.perf_counter() - start

    progress("interleaved: fitting and held-out networks in the same rounds ...")
    fit_nets = [mobilenet_v1(a, r) for a, r in FIT_CONFIGS]
    held_nets = [mobilenet_v1(a, r) for a, r in HELD_OUT]
    measured = measure_networks(fit_nets + held_nets, args.repeats, args.rounds, statistic=args.statistic)
    fitted, held = measured[: len(fit_nets)], measured[len(fit_nets) :]
    meta = {**profile.meta, "protocol": "interleaved"}
    interleaved_profile = fit_profile(profile.peak_flops_per_s, profile.bandwidth_bytes_per_s, fitted, meta=meta)
    result = compare(interleaved_profile, held)

    # Baseline: seconds = c x Mult-Adds, c from the same fitting networks.
    seconds_per_mult_add = float(np.median([m.forward_s / count(m.network).mult_adds for m in fitted]))
    proxy_errors = np.array(
        [100.0 * (seconds_per_mult_add * c.mult_adds - c.measured_s) / c.measured_s for c in result.configs]
    )

    configs, kinds = result.tables()
    configs["mult_adds_proxy_error_pct"] = proxy_errors
    print(profile_summary(interleaved_profile))
    print(
        f"BLAS threads: {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}; "
        f"calibration {calibrate_s:.1f} s (target < 60 s), validation {validate_s:.1f} s"
    )
    print()
    print(render(configs, "markdown", title="Per configuration (batch 1), interleaved protocol"))
    print()
    print(render(kinds, "markdown", title="Per layer type (summed over the 16 configurations), interleaved"))
    print()
    print(validation_summary(result))
    print()
    print("| protocol | predictor | median abs error % | max abs error % | Spearman | Kendall tau-b |")
    print("| :--- | :--- | ---: | ---: | ---: | ---: |")
    for name, r in (("sequential", sequential), ("interleaved", result)):
        print(
            f"| {name} | roofline profile | {r.median_abs_error_pct:.1f} | {r.max_abs_error_pct:.1f} | "
            f"{r.spearman:.3f} | {r.kendall_tau:.3f} |"
        )
    measured_s = [c.measured_s for c in result.configs]
    mult_adds = [c.mult_adds for c in result.configs]
    print(
        f"| interleaved | Mult-Adds x constant | {np.median(np.abs(proxy_errors)):.1f} | "
        f"{np.abs(proxy_errors).max():.1f} | {spearman(mult_adds, measured_s):.3f} | "
        f"{kendall_tau(mult_adds, measured_s):.3f} |"
    )
    if args.plots:
        from costmodel.latency.plots import save_latency_plots

        for path in save_latency_plots(result, args.plots):
            progress(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Validation report of the roofline latency model on this machine, in one run.

    python benchmarks/bench_latency.py [--threads 1] [--repeats 7] [--rounds 3] [--plots DIR]

1. ``calibrate()``: micro-benchmarks + per-layer fit on the fitting configurations (timed: target < 1 minute);
2. ``validate()``: the 16 held-out MobileNets (α ∈ {1.0, 0.75, 0.5, 0.25} x resolution ∈ {224, 192, 160, 128})
   measured with the reference executor, and predicted;
3. side by side, the baseline a search tool would use without a latency model: latency proportional to
   Mult-Adds, with the constant fitted on the same fitting configurations (median of seconds per Mult-Add).

Prints the per-configuration and per-layer-type tables, then median |error| and rank correlations of both
predictors. Targets: median |error| < 15 %, Spearman >= 0.95.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS threads (default 1; 0: the environment's)"
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--statistic", choices=("min", "median"), default="min")
    parser.add_argument("--plots", metavar="DIR", help="write the two figures into this folder")
    args = parser.parse_args()
    if args.threads > 0:  # before NumPy loads its BLAS
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)

    import numpy as np

    from costmodel import mobilenet_v1
    from costmodel.calibrate import FIT_CONFIGS, calibrate, measure_networks
    from costmodel.latency_report import profile_summary, validation_summary
    from costmodel.report import render
    from costmodel.validate_latency import spearman, validate

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    start = time.perf_counter()
    profile = calibrate(repeats=args.repeats, rounds=args.rounds, progress=progress, statistic=args.statistic)
    calibrate_s = time.perf_counter() - start
    start = time.perf_counter()
    result = validate(
        profile, repeats=args.repeats, rounds=args.rounds, progress=progress, statistic=args.statistic
    )
    validate_s = time.perf_counter() - start

    # Baseline: seconds = c x Mult-Adds, c from the same fitting configurations.
    fit = measure_networks(
        [mobilenet_v1(a, r) for a, r in FIT_CONFIGS], args.repeats, args.rounds, statistic=args.statistic
    )
    from costmodel import count

    seconds_per_mult_add = float(np.median([m.forward_s / count(m.network).mult_adds for m in fit]))
    proxy_errors = [
        100.0 * (seconds_per_mult_add * c.mult_adds - c.measured_s) / c.measured_s for c in result.configs
    ]

    configs, kinds = result.tables()
    configs["mult_adds_proxy_error_pct"] = proxy_errors
    print(profile_summary(profile))
    print(
        f"BLAS threads: {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}; "
        f"calibration {calibrate_s:.1f} s (target < 60 s), validation {validate_s:.1f} s"
    )
    print()
    print(render(configs, "markdown", title="Per configuration (batch 1)"))
    print()
    print(render(kinds, "markdown", title="Per layer type (summed over the 16 configurations)"))
    print()
    print(validation_summary(result))
    abs_proxy = np.abs(proxy_errors)
    print()
    print("| predictor | median abs error % | max abs error % | Spearman vs measured |")
    print("| :--- | ---: | ---: | ---: |")
    print(
        f"| roofline profile | {result.median_abs_error_pct:.1f} | {result.max_abs_error_pct:.1f} | "
        f"{result.spearman:.3f} |"
    )
    proxy_rho = spearman([c.mult_adds for c in result.configs], [c.measured_s for c in result.configs])
    print(f"| Mult-Adds x constant | {np.median(abs_proxy):.1f} | {abs_proxy.max():.1f} | {proxy_rho:.3f} |")
    print(
        f"error ratio (Mult-Adds proxy / roofline): {np.median(abs_proxy) / result.median_abs_error_pct:.1f}x"
    )
    if args.plots:
        from costmodel.plots_latency import save_latency_plots

        for path in save_latency_plots(result, args.plots):
            progress(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

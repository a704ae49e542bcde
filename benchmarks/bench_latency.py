"""Validation report of the latency model for one runtime on this machine, in one run.

    python benchmarks/bench_latency.py [--runtime numpy|onnxruntime] [--threads 1] [--rounds 5] [--plots DIR]

Two protocols, side by side:

- **sequential**, what a user does: ``calibrate()`` (micro-benchmarks + per-layer fit on the runtime's fitting
  configurations; timed, target < 1 minute), then ``validate()`` on the held-out MobileNets (the paper's 16 and
  six whose channel counts are not multiples of 4, ONNX Runtime's other kernel path). On a shared machine the
  load from other processes can change between the two, and that drift shows up as error.
- **interleaved**, the model's own error: the fitting and the held-out networks are measured in the same
  round-robin rounds (so under the same conditions), the profile is fitted on the fitting networks only and
  checked on the held-out ones. Same split, same code; only the timing of the measurements differs.

Beside the model, the baseline a search tool would use without one: latency = k x Mult-Adds + c, fitted on the
same fitting networks. Then the ablation: the interleaved fit refitted without each model term in turn (the
runtime's :data:`costmodel.latency.calibrate.DEFAULT_TERMS`), checked on the same held-out measurements. The
machine's load average is printed before and after (``os.getloadavg``, as ``uptime`` shows it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runtime", choices=("numpy", "onnxruntime"), default="numpy")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / ORT intra-op threads (default 1)")
    parser.add_argument("--repeats", type=int, default=None, help="default: 7 (numpy) or 20 (onnxruntime)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--plots", metavar="DIR", help="write the two figures into this folder")
    parser.add_argument("--skip-sequential", action="store_true", help="only the interleaved protocol")
    parser.add_argument(
        "--zoo",
        nargs="?",
        const="all",
        choices=("all", "mobile"),
        help="also fit on the zoo's other networks at 160 and hold them out at 224 (calibrate --zoo, "
        "validate-latency --zoo): all ten (default), or the mobile five",
    )
    args = parser.parse_args()
    if args.threads > 0 and args.runtime == "numpy":  # before NumPy loads its BLAS
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)

    from costmodel import mobilenet_v1
    from costmodel.latency.calibrate import (
        DEFAULT_TERMS,
        FIT_CONFIGS_BY_RUNTIME,
        ZOO,
        ZOO_FIT_RESOLUTION,
        ZOO_HELD_OUT_RESOLUTION,
        ZOO_MOBILE,
        calibrate,
        fit_profile,
        measure,
        measure_bandwidth,
        measure_peak_flops,
        zoo_networks,
    )
    from costmodel.latency.report import profile_summary, validation_summary
    from costmodel.latency.validate import compare, held_out_networks, validate
    from costmodel.report.tables import render

    def progress(message: str) -> None:
        if not message.startswith("round"):
            print(message, file=sys.stderr, flush=True)

    threads = max(args.threads, 1)
    print(f"load average before: {_load()} ({os.cpu_count()} cores); runtime {args.runtime}, {threads} thread(s)")
    rows = []
    zoo = {None: (), "mobile": ZOO_MOBILE, "all": ZOO}[args.zoo]
    zoo_fit = zoo_networks(ZOO_FIT_RESOLUTION, zoo)
    zoo_held = zoo_networks(ZOO_HELD_OUT_RESOLUTION, zoo)
    held_nets = held_out_networks() + zoo_held
    if not args.skip_sequential:
        start = time.perf_counter()
        profile = calibrate(
            runtime=args.runtime, networks=zoo_fit, threads=threads, repeats=args.repeats, rounds=args.rounds,
            progress=progress,
        )  # fmt: skip
        calibrate_s = time.perf_counter() - start
        start = time.perf_counter()
        sequential = validate(
            profile, networks=held_nets, threads=threads, repeats=args.repeats, rounds=args.rounds, progress=progress
        )
        validate_s = time.perf_counter() - start
        print(f"calibration {calibrate_s:.1f} s (target < 60 s), validation {validate_s:.1f} s; load {_load()}")
        rows.append(("sequential", sequential))

    progress("interleaved: fitting and held-out networks in the same rounds ...")
    fit_configs = FIT_CONFIGS_BY_RUNTIME[args.runtime]
    fit_nets = [mobilenet_v1(a, r) for a, r in fit_configs] + zoo_fit
    nets = fit_nets + held_nets
    measured = measure(args.runtime, nets, repeats=args.repeats, rounds=args.rounds, threads=threads, progress=progress)
    fitted, held = measured[: len(fit_nets)], measured[len(fit_nets) :]
    peak, bandwidth = measure_peak_flops(), measure_bandwidth()
    meta = {"fit_configs": [list(c) for c in fit_configs], "protocol": "interleaved"}
    interleaved = fit_profile(peak, bandwidth, fitted, runtime=args.runtime, meta=meta)
    result = compare(interleaved, held)
    rows.append(("interleaved", result))
    print(f"load average after: {_load()}")
    print()
    print(profile_summary(interleaved))
    print()
    configs, kinds = result.tables()
    print(render(configs, "markdown", title="Per network (batch 1), interleaved protocol"))
    print()
    print(render(kinds, "markdown", title="Per layer kind (summed over the held-out networks), interleaved"))
    print()
    print(validation_summary(result))
    print()
    print(
        "| protocol | predictor | median abs error | max abs error | within +-10 % | Spearman | Kendall tau-b "
        "| close pairs ordered |"
    )
    print("| :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows:
        accuracy, pairs = r.pairwise_accuracy
        print(
            f"| {name} | roofline profile | {r.median_abs_error_pct:.1f} % | {r.max_abs_error_pct:.1f} % | "
            f"{100 * r.within_10_percent:.0f} % | {r.spearman:.3f} | {r.kendall_tau:.3f} | "
            f"{100 * accuracy:.0f} % of {pairs} |"
        )
        base = r.baseline()
        if base is not None:
            print(
                f"| {name} | k x Mult-Adds + c | {100 * base['median_abs_error']:.1f} % | "
                f"{100 * base['max_abs_error']:.1f} % | {100 * base['within_10_percent']:.0f} % | "
                f"{base['spearman']:.3f} | | {100 * r.mult_adds_pairwise_accuracy:.0f} % of {pairs} |"
            )
    print()
    print("Ablation (interleaved measurements; the fit without one term at a time):")
    print()
    print("| model | median abs error | max abs error | within +-10 % | Spearman | close pairs ordered |")
    print("| :--- | ---: | ---: | ---: | ---: | ---: |")
    default = DEFAULT_TERMS[args.runtime]
    for dropped in (None, *default):
        terms = [t for t in default if t != dropped]
        r = compare(fit_profile(peak, bandwidth, fitted, runtime=args.runtime, meta=meta, terms=terms), held)
        accuracy, pairs = r.pairwise_accuracy
        label = "all terms" if dropped is None else f"without {dropped}"
        print(
            f"| {label} | {r.median_abs_error_pct:.1f} % | {r.max_abs_error_pct:.1f} % | "
            f"{100 * r.within_10_percent:.0f} % | {r.spearman:.3f} | {100 * accuracy:.0f} % |"
        )
    if args.plots:
        from costmodel.latency.plots import save_latency_plots

        for path in save_latency_plots(result, args.plots):
            progress(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The fit's hand-written NNLS (costmodel.latency.fit._nnls) against scipy.optimize.nnls, on real design matrices.

    python benchmarks/bench_nnls.py [--numpy]

The design matrices are the ones calibration builds: every non-negative least-squares problem ``fit_profile``
solves when it fits the recorded ONNX Runtime profile (tests/fixtures/ort_profile.json: 16 MobileNets measured on
the project's machine), with the default terms and with each term left out in turn (the ablation), and, with
``--numpy``, the same on MobileNets measured here by the reference executor (a minute or so). Each problem is
solved by both (scipy on the same unit-norm columns as the hand solver: the unknowns mix seconds per roofline
second and seconds) and compared:

- residuals: (|A x_hand - b| - |A x_scipy| - b|) / |b|, which is >= 0 where the hand solver is worse;
- solutions: max |x_hand - x_scipy| / max |x| on the scaled unknowns, and how many problems differ by more than
  1e-9; rank-deficient problems (more than one optimum) are counted apart;
- the fitted profiles: every number of every profile, hand against scipy;
- time per problem, and ``import scipy.optimize`` in a fresh interpreter (what a runtime dependency would add to
  ``costmodel calibrate``). scipy is not a dependency of costmodel: ``pip install scipy`` to run this.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "ort_profile.json"


def _scaled(a: np.ndarray) -> np.ndarray:
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    return scale


def _flat(value: object, path: str = "") -> dict[str, float]:
    """Every number of a profile's fields, by path; a missing table entry is 0 (the profile's own reading)."""
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(_flat(v, f"{path}/{k}"))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[path] = float(value)
    return out


def _fits(measurements_by_case: dict[str, tuple[float, float, list]], solver) -> tuple[dict[str, dict], list]:
    """Fit every case with ``solver`` standing in for the hand NNLS; return the profiles and the problems seen."""
    import costmodel.latency.fit as fit
    from costmodel.latency.fit import TERMS, fit_profile

    real = fit._nnls
    problems: list[tuple[np.ndarray, np.ndarray]] = []

    def recording(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        problems.append((np.array(a), np.array(b)))
        return solver(a, b)

    fit._nnls = recording
    try:
        profiles = {}
        for case, (peak, bandwidth, ms, runtime, cache) in measurements_by_case.items():
            for left_out in (None, *TERMS):
                terms = None if left_out is None else [t for t in TERMS if t != left_out]
                p = fit_profile(peak, bandwidth, ms, runtime=runtime, terms=terms, cache_bytes=cache)
                fields = {
                    k: getattr(p, k)
                    for k in ("efficiency", "overhead_by_kind_s", "overhead_per_group_s", "spill", "transitions")
                }
                fields |= {"activations": p.activations, "overhead_s": p.overhead_s}
                fields |= {"overhead_network_s": p.overhead_network_s, "baseline": p.meta["mult_adds_baseline"]}
                profiles[f"{case} -{left_out or 'nothing'}"] = _flat(fields)
    finally:
        fit._nnls = real
    return profiles, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--numpy", action="store_true", help="also MobileNets measured here by the reference executor")
    args = parser.parse_args()
    try:
        from scipy.optimize import nnls
    except ImportError:
        print("this benchmark compares with scipy.optimize.nnls: pip install scipy", file=sys.stderr)
        return 2
    from costmodel import mobilenet_v1
    from costmodel.latency.fit import _nnls
    from costmodel.latency.runtimes import measurement_from_profile

    doc = json.loads(FIXTURE.read_text())
    ort = [
        measurement_from_profile(mobilenet_v1(r["alpha"], r["resolution"]), r["events"], r["forward_s"])
        for r in doc["networks"]
        if not r["held_out"]
    ]
    cases = {"onnxruntime (recorded)": (8.7e10, 4.0e10, ort, "onnxruntime", doc["cache_bytes"])}
    if args.numpy:
        from costmodel.latency.calibrate import FIT_CONFIGS
        from costmodel.latency.measure import measure_networks
        from costmodel.latency.microbench import measure_bandwidth, measure_peak_flops

        nets = [mobilenet_v1(a, r) for a, r in FIT_CONFIGS]
        ms = measure_networks(nets, repeats=3, rounds=2)
        cases["numpy (measured here)"] = (measure_peak_flops(), measure_bandwidth(), ms, "numpy", 0)

    def scipy_nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        scale = _scaled(a)
        return nnls(a / scale, b)[0] / scale

    hand_profiles, problems = _fits(cases, _nnls)
    scipy_profiles, _ = _fits(cases, scipy_nnls)

    worse, differ, deficient, worst_x, worst_full = [], 0, 0, 0.0, 0.0
    t_hand = t_scipy = 0.0
    for a, b in problems:
        start = time.perf_counter()
        xh = _nnls(a, b)
        t_hand += time.perf_counter() - start
        start = time.perf_counter()
        xs = scipy_nnls(a, b)
        t_scipy += time.perf_counter() - start
        norm_b = float(np.linalg.norm(b)) or 1.0
        worse.append((np.linalg.norm(a @ xh - b) - np.linalg.norm(a @ xs - b)) / norm_b)
        scale = _scaled(a)
        top = max(float(np.max(np.abs(xh * scale))), float(np.max(np.abs(xs * scale))), 1e-300)
        dx = float(np.max(np.abs(xh - xs) * scale)) / top
        if np.linalg.matrix_rank(a / scale) < a.shape[1]:
            deficient += 1
        else:
            differ += dx > 1e-9
            worst_full = max(worst_full, dx)
        worst_x = max(worst_x, dx)
    rows = [a.shape for a, _ in problems]
    print(f"{len(problems)} NNLS problems from {len(hand_profiles)} fits ({', '.join(cases)})")
    print(f"  shapes: {min(r for r, _ in rows)}-{max(r for r, _ in rows)} rows x {min(c for _, c in rows)}-"
          f"{max(c for _, c in rows)} unknowns; {deficient} rank-deficient (more than one optimum)")  # fmt: skip
    print(f"  residual, (hand - scipy) / |b|: max {max(worse):+.2e}, min {min(worse):+.2e}  (> 0: hand worse)")
    print(f"  solutions, max |x_hand - x_scipy| / max |x|: full-rank problems {worst_full:.1e} ({differ} beyond 1e-9), "
          f"rank-deficient {worst_x:.1e} (another optimum)")  # fmt: skip
    numbers = differ_numbers = only_one = 0
    worst = 0.0
    for case, hand in hand_profiles.items():
        other = scipy_profiles[case]
        for key in hand.keys() | other.keys():
            u, v = hand.get(key, 0.0), other.get(key, 0.0)
            if (key in hand) != (key in other):
                only_one += 1
            numbers += 1
            rel = abs(u - v) / max(abs(u), abs(v), 1e-300)
            differ_numbers += rel > 1e-12
            worst = max(worst, rel)
    print(f"  profiles: {numbers} fitted numbers, {differ_numbers} differ beyond 1e-12 relative (max {worst:.2g}); "
          f"{only_one} table entries only one solver gives")  # fmt: skip
    n = len(problems)
    print(f"  time per problem: hand {1e6 * t_hand / n:,.0f} us, scipy {1e6 * t_scipy / n:,.0f} us "
          f"(ratio {t_hand / t_scipy:.1f}x); per fit: hand {1e3 * t_hand / len(hand_profiles):.1f} ms")  # fmt: skip
    code = "import time; t = time.perf_counter(); import scipy.optimize; print(time.perf_counter() - t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
             for _ in range(3)]  # fmt: skip
    code = "import time; t = time.perf_counter(); import numpy; print(time.perf_counter() - t)"
    base = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    print(f"  import scipy.optimize in a fresh interpreter: {1e3 * min(times):,.0f} ms (best of 3; numpy alone "
          f"{1e3 * base:,.0f} ms)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Import time of ``costmodel`` beside ``import numpy``, each in a fresh interpreter (median of several runs).

    python benchmarks/bench_import.py [--runs 15]

Each run starts ``python -X importtime -c "import X"`` and reads the cumulative time the interpreter reports
for ``X`` (everything ``X`` imports included, interpreter start-up excluded). Also prints the wall time of a
whole ``python -c "import X"`` process, start-up included, and of an empty one, and the CPU time (user +
system) those processes used: on a loaded machine wall times include the time spent waiting for a core, CPU
times much less so, and the CPU ratio (less the empty interpreter's) is the figure to quote there.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time


def import_us(module: str) -> int:
    """Microseconds spent importing ``module`` and everything it imports, from ``-X importtime``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            _, cumulative_us, name = (part.strip() for part in line[len("import time:") :].split("|"))
            if name == module:
                return int(cumulative_us)
    raise RuntimeError(f"no import time reported for {module}")


def process_ms(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - start) * 1e3


def process_cpu_ms(code: str) -> float:
    """User + system CPU milliseconds of one ``python -c code`` process (start-up included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    results = {}
    for module in ("numpy", "costmodel"):
        results[module] = statistics.median(import_us(module) for _ in range(args.runs)) / 1e3
    empty = statistics.median(process_ms("pass") for _ in range(args.runs))
    wall = {m: statistics.median(process_ms(f"import {m}") for _ in range(args.runs)) for m in results}
    cpu = {m: statistics.median(process_cpu_ms(f"import {m}") for _ in range(args.runs)) for m in results}
    empty_cpu = statistics.median(process_cpu_ms("pass") for _ in range(args.runs))
    print(f"median of {args.runs} runs, Python {sys.version.split()[0]}")
    print(f"{'module':<10} {'import (ms)':>12} {'process (ms)':>13} {'process CPU (ms)':>17}")
    for module in results:
        print(f"{module:<10} {results[module]:>12.1f} {wall[module]:>13.1f} {cpu[module]:>17.1f}")
    print(f"{'(empty)':<10} {'':>12} {empty:>13.1f} {empty_cpu:>17.1f}")
    print(f"ratio costmodel / numpy import: {results['costmodel'] / results['numpy']:.2f}")
    cpu_ratio = (cpu["costmodel"] - empty_cpu) / (cpu["numpy"] - empty_cpu)
    print(f"ratio costmodel / numpy, process CPU less the empty interpreter's: {cpu_ratio:.2f}")
    loaded = subprocess.run(
        [sys.executable, "-c", "import costmodel, sys; print(sorted({'numpy', 'pandas', 'matplotlib'} & "
         "{m.split('.')[0] for m in sys.modules}))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    print(f"heavy modules loaded by 'import costmodel': {loaded}")


if __name__ == "__main__":
    main()

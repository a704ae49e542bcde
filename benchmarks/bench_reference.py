"""NumPy reference forward vs ONNX Runtime on the same model, same thread count, side by side in one process.

    python benchmarks/bench_reference.py [--threads 2] [--rounds 15] [--alpha 1.0] [--resolution 224]

For batch 1 and batch 8 it prints the median latency of ONNX Runtime and of the NumPy forward (depthwise
layers on 1 thread, and on ``--threads`` threads), the ratio NumPy / ORT (target <= 1.5 at batch 1) and the
GFLOP/s (2 x Mult-Adds / time); then the time per layer type of the NumPy pass and the peak resident memory
of ``costmodel run`` (target < 300 MB). Runs are interleaved in rounds (one block per runtime, the order
alternating, the first pass of each block dropped) so that load from other processes hits all of them alike.

In one process the runtimes disturb each other: OpenBLAS's worker threads spin for a while after each matrix
product and slow ONNX Runtime's next run down. So the script also times each runtime alone, in fresh
processes that alternate, and prints that ratio too: it is the fairer one with more than one thread.
"""

from __future__ import annotations

import argparse
import os
import sys

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--threads", type=int, default=2, help="threads for OpenBLAS and ONNX Runtime (default 2)")
parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
parser.add_argument("--per-round", type=int, default=4, help="passes per runtime per round (default 4)")
parser.add_argument("--alpha", type=float, default=1.0)
parser.add_argument("--resolution", type=int, default=224)
parser.add_argument("--batches", default="1,8", help="comma-separated batch sizes (default 1,8)")
parser.add_argument(
    "--ort-spin",
    action="store_true",
    help="let ORT's idle threads spin (its default); off here: spinning threads left over from an ORT "
    "block steal both cores from the NumPy block that follows",
)
parser.add_argument("--no-rss", action="store_true", help="skip the peak-memory measurement of `costmodel run`")
parser.add_argument("--alone", choices=("numpy", "ort"), help=argparse.SUPPRESS)  # one runtime, in a subprocess
args = parser.parse_args()

# Thread counts must be fixed before NumPy (OpenBLAS) is imported.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

import costmodel  # noqa: E402
from costmodel.reference import forward, init_weights, prepare, time_layers  # noqa: E402
from costmodel.reference.onnx_export import to_onnx  # noqa: E402


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, per_round: int) -> dict[str, tuple[float, float]]:
    """Median (wall seconds, process CPU seconds) of each function, timed in blocks whose order rotates;
    each block's first pass is dropped (it pays for the other runtime's threads winding down and for cold
    caches). CPU time counts every thread of this process, spinning ones included; with one thread it is
    the least load-sensitive measure of the work done."""
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
    names = list(fns)
    for fn in fns.values():  # warm-up: buffers, thread pools, page faults
        fn()
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = fns[name]
            for i in range(per_round + 1):
                wall, cpu = time.perf_counter(), time.process_time()
                fn()
                if i:
                    samples[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {k: tuple(float(x) for x in np.median(np.array(v), axis=0)) for k, v in samples.items()}


def peak_rss_mb(argv: list[str]) -> float:
    """Peak resident memory (MB) of ``costmodel <argv>`` in a fresh interpreter, read from its own VmHWM.

    (``getrusage(RUSAGE_CHILDREN)`` would report this process's size: a child starts with the parent's
    resident pages counted, and Linux keeps that high-water mark across exec.)
    """
    code = (
        "import sys\n"
        "from costmodel.cli import main\n"
        f"main({argv!r})\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print('VmHWM', hwm, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("VmHWM")][-1]
    return int(line.split()[1]) / 1024


def _session(net: costmodel.Network, weights: dict) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    if not args.ort_spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(to_onnx(net, weights).SerializeToString(), options,
                                providers=["CPUExecutionProvider"])  # fmt: skip


def alone() -> None:
    """Time one runtime with nothing else in the process (no idle threads of the other one around)."""
    net = costmodel.mobilenet_v1(args.alpha, args.resolution)
    weights = init_weights(net, seed=0)
    if args.alone == "ort":
        session = _session(net, weights)
    else:
        prepared = prepare(net, weights)
    for batch in [int(b) for b in args.batches.split(",")]:
        r = net.input_size
        x = np.random.default_rng(batch).uniform(-1, 1, (batch, r, r, 3)).astype(np.float32)
        if args.alone == "ort":
            fn: Callable[[], object] = lambda x=x: session.run(["logits"], {"images": x})  # noqa: E731
        else:
            fn = lambda x=x: forward(net, prepared, x)  # noqa: E731
        seconds = interleaved({args.alone: fn}, args.rounds, args.per_round)[args.alone][0]
        print(f"ALONE {batch} {seconds!r}")


def alone_table() -> None:
    """Each runtime alone in a fresh process, the processes alternating (3 each); medians of their medians."""
    runs: dict[str, dict[int, list[float]]] = {"ort": {}, "numpy": {}}
    for i in range(6):
        which = ("ort", "numpy")[i % 2]
        argv = [sys.executable, __file__, "--alone", which, "--threads", str(args.threads),
                "--rounds", str(max(3, args.rounds // 3)), "--alpha", str(args.alpha),
                "--resolution", str(args.resolution), "--batches", args.batches]  # fmt: skip
        argv += ["--ort-spin"] if args.ort_spin else []
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
        for line in done.stdout.splitlines():
            if line.startswith("ALONE "):
                _, batch, seconds = line.split()
                runs[which].setdefault(int(batch), []).append(float(seconds))
    print("Each runtime alone in its own process (no idle threads of the other runtime competing):")
    print(f"{'batch':>5}  {'ORT ms':>8}  {'numpy ms':>8}  {'numpy/ORT':>9}")
    for batch, ort_s in runs["ort"].items():
        o, n = float(np.median(ort_s)), float(np.median(runs["numpy"][batch]))
        print(f"{batch:>5}  {1e3 * o:>8.2f}  {1e3 * n:>8.2f}  {n / o:>9.2f}")


def main() -> None:
    if args.alone:
        alone()
        return
    net = costmodel.mobilenet_v1(args.alpha, args.resolution)
    mult_adds = costmodel.count(net).mult_adds
    weights = init_weights(net, seed=0)
    variants = {"numpy": prepare(net, weights, threads=1)}
    if args.threads > 1:
        variants[f"numpy, dw {args.threads} thr"] = prepare(net, weights, threads=args.threads)
    session = _session(net, weights)
    print(
        f"{net.name}: {mult_adds:,} Mult-Adds per image; {args.threads} thread(s) for OpenBLAS and ORT; "
        f"numpy {np.__version__}, onnxruntime {ort.__version__}, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, ORT spinning "
        f"{'on' if args.ort_spin else 'off'}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    header = f"{'batch':>5}  {'runtime':<16}  {'median ms':>9}  {'vs ORT':>6}  {'GFLOP/s':>7}"
    print(f"{header}  {'CPU ms':>7}  {'vs ORT':>6}  {'max rel. diff':>13}")
    for batch in [int(b) for b in args.batches.split(",")]:
        r = net.input_size
        x = np.random.default_rng(batch).uniform(-1, 1, (batch, r, r, 3)).astype(np.float32)
        want = session.run(["logits"], {"images": x})[0]
        fns: dict[str, Callable[[], object]] = {"ONNX Runtime": lambda x=x: session.run(["logits"], {"images": x})}
        fns.update({name: (lambda p=p, x=x: forward(net, p, x)) for name, p in variants.items()})
        t = interleaved(fns, args.rounds, args.per_round)
        flops = 2 * mult_adds * batch
        for name, (seconds, cpu) in t.items():
            diff = 0.0 if name == "ONNX Runtime" else np.abs(forward(net, variants[name], x) - want).max()
            wall_ort, cpu_ort = t["ONNX Runtime"]
            print(f"{batch:>5}  {name:<16}  {1e3 * seconds:>9.2f}  {seconds / wall_ort:>6.2f}  "
                  f"{flops / seconds / 1e9:>7.1f}  {1e3 * cpu:>7.2f}  {cpu / cpu_ort:>6.2f}  "
                  f"{diff / np.abs(want).max():>13.1e}")  # fmt: skip
    x = np.random.default_rng(0).uniform(-1, 1, (1, net.input_size, net.input_size, 3)).astype(np.float32)
    seconds = time_layers(net, variants["numpy"], x, repeats=args.rounds)
    kinds: dict[str, float] = {}
    for lc in costmodel.count(net).layers:
        kinds[lc.kind] = kinds.get(lc.kind, 0.0) + seconds[lc.name]
    total = sum(kinds.values())
    split = ", ".join(f"{k} {1e3 * s:.2f} ms ({100 * s / total:.0f} %)" for k, s in kinds.items())
    print(f"NumPy batch 1 (dw 1 thread), time by layer type: {split}")
    alone_table()
    if not args.no_rss:
        argv = ["run", "--alpha", str(args.alpha), "--resolution", str(args.resolution)]
        print(f"peak RSS of `costmodel {' '.join(argv)}`: {peak_rss_mb(argv):.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()

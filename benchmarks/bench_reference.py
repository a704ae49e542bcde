"""NumPy reference forward vs ONNX Runtime on the same model, same thread count, side by side in one process.

    python benchmarks/bench_reference.py [--threads 2] [--rounds 15] [--alpha 1.0] [--resolution 224]

Prints, for batch 1 and batch 8: the median latency of each runtime, their ratio (NumPy / ORT; target <= 1.5
at batch 1) and NumPy's GFLOP/s (2 x Mult-Adds / time); then the per-layer-type time split of the NumPy pass
and the peak resident memory of ``costmodel run`` (target < 300 MB). Runs are interleaved in rounds (ORT block,
NumPy block, alternating which goes first) so that load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
import os
import sys

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument(
    "--threads", type=int, default=2, help="threads for OpenBLAS and ONNX Runtime (default 2)"
)
parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
parser.add_argument("--per-round", type=int, default=3, help="timed passes per runtime per round (default 3)")
parser.add_argument("--alpha", type=float, default=1.0)
parser.add_argument("--resolution", type=int, default=224)
parser.add_argument("--batches", default="1,8", help="comma-separated batch sizes (default 1,8)")
parser.add_argument(
    "--no-rss", action="store_true", help="skip the peak-memory measurement of `costmodel run`"
)
args = parser.parse_args()

# Thread counts must be fixed before NumPy (OpenBLAS) is imported.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

import costmodel  # noqa: E402
from costmodel.reference import forward, init_weights, prepare, time_layers  # noqa: E402
from costmodel.reference.onnx_export import to_onnx  # noqa: E402


def interleaved(fns: dict[str, object], rounds: int, per_round: int) -> dict[str, float]:
    """Median seconds of each zero-argument function, timed in alternating blocks."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for fn in fns.values():  # warm-up: buffers, thread pools, page faults
        fn()
        fn()
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            fn = fns[name]
            for _ in range(per_round):
                start = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - start)
    return {k: float(np.median(v)) for k, v in samples.items()}


def peak_rss_mb(argv: list[str]) -> float:
    """Peak resident memory (MB) of a child process, from getrusage (Linux reports ru_maxrss in KiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if after <= before:  # ru_maxrss of children is a maximum over all children so far
        raise RuntimeError("could not measure the child's peak RSS (run this script in a fresh process)")
    return after / 1024


def main() -> None:
    net = costmodel.mobilenet_v1(args.alpha, args.resolution)
    mult_adds = costmodel.count(net).mult_adds
    weights = init_weights(net, seed=0)
    prepared = prepare(net, weights)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        to_onnx(net, weights).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    print(
        f"{net.name}: {mult_adds:,} Mult-Adds per image; threads={args.threads} (OpenBLAS and ORT); "
        f"numpy {np.__version__}, onnxruntime {ort.__version__}; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )
    print(
        f"{'batch':>5}  {'numpy ms':>9}  {'ORT ms':>8}  {'numpy/ORT':>9}  {'numpy GFLOP/s':>13}  {'ORT GFLOP/s':>11}"
        "  max rel. diff"
    )
    for batch in [int(b) for b in args.batches.split(",")]:
        r = net.input_size
        x = np.random.default_rng(batch).uniform(-1, 1, (batch, r, r, 3)).astype(np.float32)
        diff = float(np.abs(forward(net, prepared, x) - session.run(["logits"], {"images": x})[0]).max())
        diff /= float(np.abs(session.run(["logits"], {"images": x})[0]).max())
        t = interleaved(
            {
                "numpy": lambda x=x: forward(net, prepared, x),
                "ort": lambda x=x: session.run(["logits"], {"images": x}),
            },
            args.rounds,
            args.per_round,
        )
        flops = 2 * mult_adds * batch
        print(
            f"{batch:>5}  {1e3 * t['numpy']:>9.2f}  {1e3 * t['ort']:>8.2f}  {t['numpy'] / t['ort']:>9.2f}  "
            f"{flops / t['numpy'] / 1e9:>13.1f}  {flops / t['ort'] / 1e9:>11.1f}  {diff:.1e}"
        )
    x = np.random.default_rng(0).uniform(-1, 1, (1, net.input_size, net.input_size, 3)).astype(np.float32)
    seconds = time_layers(net, prepared, x, repeats=args.rounds)
    kinds: dict[str, float] = {}
    for lc in costmodel.count(net).layers:
        kinds[lc.kind] = kinds.get(lc.kind, 0.0) + seconds[lc.name]
    total = sum(kinds.values())
    print(
        "NumPy batch 1, time by layer type: "
        + ", ".join(f"{k} {1e3 * s:.2f} ms ({100 * s / total:.0f} %)" for k, s in kinds.items())
    )
    if not args.no_rss:
        argv = [
            sys.executable,
            "-m",
            "costmodel",
            "run",
            "--alpha",
            str(args.alpha),
            "--resolution",
            str(args.resolution),
        ]
        print(
            f"peak RSS of `costmodel run --alpha {args.alpha} --resolution {args.resolution}`: "
            f"{peak_rss_mb(argv):.0f} MB (target < 300 MB)"
        )


if __name__ == "__main__":
    main()

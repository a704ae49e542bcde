"""The reference executor on the mobile zoo and on MobileNetV1 with 3x3/5x5/7x7 depthwise kernels, against
ONNX Runtime running the exported model, same thread count, batch 1, side by side in one process.

    python benchmarks/bench_zoo.py [--threads 1] [--rounds 9] [--resolution 224]

For each network it prints its Mult-Adds, the median latency of the NumPy forward and of ONNX Runtime, their
ratio, and the NumPy GFLOP/s (2 x Mult-Adds / time). Passes are interleaved in rounds (one pass of each runtime
per network per round, the order alternating) so that load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--threads", type=int, default=1, help="threads for OpenBLAS and ONNX Runtime (default 1)")
parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
parser.add_argument("--resolution", type=int, default=224)
args = parser.parse_args()

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads
    os.environ[var] = str(args.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

import costmodel  # noqa: E402
from costmodel.reference import forward, init_weights, prepare  # noqa: E402
from costmodel.reference.onnx_export import to_onnx  # noqa: E402
from costmodel.spec.network import Network  # noqa: E402


def mobilenet_v1_dw(k: int, resolution: int) -> Network:
    base = costmodel.mobilenet_v1(1.0, resolution)
    layers = [dataclasses.replace(layer, kernel=k) if getattr(layer, "depthwise", False) else layer
              for layer in base.layers]  # fmt: skip
    return Network(layers, resolution, name=f"MobileNetV1 1.0-{resolution} dw{k}x{k}")


def session(net: Network, weights: dict) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = args.threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(to_onnx(net, weights).SerializeToString(), options, providers=["CPUExecutionProvider"])


r = args.resolution
nets = [costmodel.network(name, resolution=r) for name in
        ("mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "mnasnet1_0", "efficientnet_b0")]  # fmt: skip
nets += [mobilenet_v1_dw(k, r) for k in (3, 5, 7)]
x = np.random.default_rng(0).uniform(-1, 1, (1, r, r, 3)).astype(np.float32)
runs = {}
for net in nets:
    weights = init_weights(net, seed=0)
    prepared, sess = prepare(net, weights), session(net, weights)
    numpy_run = lambda p=prepared, n=net: forward(n, p, x)  # noqa: E731
    ort_run = lambda s=sess: s.run(["logits"], {"images": x})  # noqa: E731
    numpy_run(), ort_run()  # warm-up: buffers, pages, ORT's first-run planning
    runs[net.name] = (net, {"numpy": numpy_run, "ort": ort_run}, {"numpy": [], "ort": []})

for i in range(args.rounds):
    for _, fns, samples in runs.values():
        for key in ("numpy", "ort") if i % 2 == 0 else ("ort", "numpy"):
            start = time.perf_counter()
            fns[key]()
            samples[key].append(time.perf_counter() - start)

print(f"batch 1, {args.threads} thread(s), median of {args.rounds} interleaved rounds")
print(f"{'network':<36} {'Mult-Adds':>13} {'NumPy ms':>9} {'ORT ms':>8} {'NumPy/ORT':>10} {'NumPy GFLOP/s':>14}")
for name, (net, _, samples) in runs.items():
    numpy_s, ort_s = float(np.median(samples["numpy"])), float(np.median(samples["ort"]))
    mult_adds = costmodel.count(net).mult_adds
    print(f"{name:<36} {mult_adds:>13,} {numpy_s * 1e3:>9.1f} {ort_s * 1e3:>8.1f} {numpy_s / ort_s:>10.2f}"
          f" {2 * mult_adds / numpy_s / 1e9:>14.1f}")  # fmt: skip

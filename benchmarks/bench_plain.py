"""What the tuned reference buys over the plain one: the same networks, both paths interleaved in one process.

Run: OPENBLAS_NUM_THREADS=1 python benchmarks/bench_plain.py [--rounds 7]

The plain path (:mod:`costmodel.reference.plain`) is one obviously-right kernel per layer type; the tuned
executor (:mod:`costmodel.reference.executor`) folds batch norm, runs each 1x1 convolution as one matrix product
into the next layer's input, picks a depthwise kernel per layer, carries biases across layers and reuses its
buffers. Each round times one forward pass of each path, alternating; the medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import costmodel
from costmodel.reference import forward, init_weights, prepare
from costmodel.reference.plain import plain_forward


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    print(f"{'network':24s} {'batch':>5s} {'plain ms':>9s} {'tuned ms':>9s} {'plain/tuned':>12s}")
    for alpha, resolution in [(1.0, 224), (0.5, 160), (0.25, 128)]:
        net = costmodel.mobilenet_v1(alpha, resolution)
        weights = init_weights(net)
        prepared = prepare(net, weights)
        for batch in (1, 8):
            x = np.random.default_rng(0).standard_normal((batch, resolution, resolution, 3)).astype(np.float32)
            forward(net, prepared, x), plain_forward(net, weights, x)  # warm-up
            plain, tuned = [], []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                plain_forward(net, weights, x)
                t1 = time.perf_counter()
                forward(net, prepared, x)
                t2 = time.perf_counter()
                plain.append(t1 - t0)
                tuned.append(t2 - t1)
            p, t = statistics.median(plain) * 1e3, statistics.median(tuned) * 1e3
            print(f"{net.name:24s} {batch:5d} {p:9.1f} {t:9.1f} {p / t:12.2f}")


if __name__ == "__main__":
    main()

"""int8 against float32 and LiteRT, network by network: how close the integer reference and LiteRT's kernels are,
and how often int8's top-1 agrees with float32's (seeded weights, random images).

    python benchmarks/bench_int8.py [--images 32] [--networks mobilenet_v1_0.25_128 mobilenet_v2_96 ...]

For each network: seeded weights (seed 0), activation ranges from 16 calibration images (seed 1), then on
``--images`` other images (seed 2), all uniform in -1..1: the largest difference in int8 units between
:func:`costmodel.reference.run_int8` and LiteRT's reference kernels (``BUILTIN_REF``; the tests require 0) and
its default kernels (XNNPACK, which requantise their own way: differences compound layer by layer), the top-1
agreement of the int8 logits with the float32 executor's, and the dequantised logits' largest error relative
to the largest float32 logit. Seeded weights give nearly tied logits (no training separates the classes), so the
agreement here is a floor; tests/test_reference_tflite.py checks top-1 on a head fitted to sample images.
Needs the ``litert`` extra.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import costmodel
from costmodel.reference import forward, init_weights, run_int8, to_tflite
from costmodel.reference.tflite_graph import activation_ranges

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _litert import run_litert  # noqa: E402  (the tests' one way to run a .tflite model)

NETWORKS = {
    "mobilenet_v1_0.25_128": lambda: costmodel.mobilenet_v1(0.25, 128),
    "mobilenet_v1_0.5_128": lambda: costmodel.mobilenet_v1(0.5, 128),
    "mobilenet_v1_keras_0.25_128": lambda: costmodel.mobilenet_v1(0.25, 128, flavour="keras"),
    "mobilenet_v2_96": lambda: costmodel.network("mobilenet_v2", resolution=96),
    "mnasnet1_0_96": lambda: costmodel.network("mnasnet1_0", resolution=96),
    "squeezenet1_1_96": lambda: costmodel.network("squeezenet1_1", resolution=96),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--networks", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    args = parser.parse_args()
    print(f"{'network':30s} {'vs REF':>7s} {'vs XNNPACK':>10s} {'top-1 agree':>11s} {'logit err':>9s} {'time':>6s}")
    for name in args.networks:
        start = time.perf_counter()
        net = NETWORKS[name]()
        r = net.input_size
        weights = init_weights(net, seed=0)
        calibration = np.random.default_rng(1).uniform(-1, 1, (16, r, r, 3)).astype(np.float32)
        x = np.random.default_rng(2).uniform(-1, 1, (args.images, r, r, 3)).astype(np.float32)
        data, q = to_tflite(net, weights, dtype="int8", ranges=activation_ranges(net, weights, calibration))
        assert q is not None
        xq = q.quantize_input(x)
        mine = run_int8(q, xq)
        assert isinstance(mine, np.ndarray)
        ref = int(np.abs(mine.astype(np.int32) - run_litert(data, xq, "ref")).max())
        xnn = int(np.abs(mine.astype(np.int32) - run_litert(data, xq, "default")).max())
        want = forward(net, weights, x)
        agree = float((mine.argmax(1) == want.argmax(1)).mean())
        err = float(np.abs(q.dequantize_output(mine) - want).max() / np.abs(want).max())
        seconds = time.perf_counter() - start
        print(f"{name:30s} {ref:7d} {xnn:10d} {agree:11.1%} {err:9.1%} {seconds:5.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

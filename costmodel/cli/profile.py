"""``costmodel profile``: where a runtime spends its time, per layer and type: NumPy's or ONNX Runtime's.

With ``--runtime onnxruntime`` the network is exported (:mod:`costmodel.reference.onnx_export`) and timed by
ONNX Runtime's own profiler, one thread by default, spinning off (:mod:`costmodel.latency.runtimes`); a layer's
time is the time of its runtime nodes (fused nodes included) plus the layout changes the runtime ran before it.
"""

from __future__ import annotations

import argparse

from ..checks import dump_json
from ._common import add_network_arguments, add_output_arguments, apply_threads, emit, positive_int
from ._reference import add_reference_arguments, network_and_weights

NAME = "profile"
HELP = "time every layer of a runtime (NumPy reference or ONNX Runtime): shares of Mult-Adds, params, time, GFLOP/s"

# Howard et al. (2017), Section 3.1: "MobileNet spends 95% of it's computation time in 1 x 1 convolutions".
PAPER_CLAIM = "the paper (Sec. 3.1) says 95 % of computation time goes to 1x1 convolutions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, weights=True)
    add_reference_arguments(parser)
    parser.add_argument("--batch", type=positive_int, default=1, help="images per forward pass (default 1)")
    parser.add_argument("--repeats", type=positive_int, default=10, help="timed passes; medians per layer (default 10)")
    parser.add_argument(
        "--runtime",
        choices=("numpy", "onnxruntime"),
        default="numpy",
        help="numpy (the reference executor, default) or onnxruntime (its profiler per node; batch 1, seeded "
        "weights; needs the [onnx] extra)",
    )
    add_output_arguments(parser)


def _onnxruntime_seconds(network, args: argparse.Namespace) -> dict[str, float]:
    """Seconds per top-level layer from ONNX Runtime's profiler (blocks: the sum of their layers)."""
    from ..errors import InputError
    from ..latency.runtimes import measure_onnxruntime

    for flag, given in (("--batch", args.batch != 1), ("--weights", bool(args.weights))):
        if given:
            raise InputError(f"{flag} is not available with --runtime onnxruntime (batch 1, seeded weights)")
    threads = max(args.threads, 1)
    (m,) = measure_onnxruntime([network], repeats=args.repeats, rounds=3, seed=args.seed, threads=threads)
    return {
        node.name: sum(m.layer_s.get(leaf.name, 0.0) + m.glue_s.get(leaf.name, 0.0) for leaf in node.leaves())
        + (m.layer_s.get(node.name, 0.0) + m.glue_s.get(node.name, 0.0) if node.branches else 0.0)
        for node in network.nodes
    }


def run(args: argparse.Namespace) -> int:
    apply_threads(args.threads if args.runtime == "numpy" else 1)  # before NumPy loads
    threads = args.threads or 1  # depthwise threads

    import numpy as np

    from ..counting.engine import count
    from ..reference import prepare, time_layers
    from ..reference.profiling import ONE_BY_ONE, kind_table, profile_table
    from ..report.tables import records, render

    network, weights = network_and_weights(args)
    if args.runtime == "onnxruntime":
        seconds = _onnxruntime_seconds(network, args)
        what = f"ONNX Runtime, {max(args.threads, 1)} thread(s)"
    else:
        prepared = prepare(network, weights, threads=threads)
        r = network.input_size
        images = np.random.default_rng(args.seed).uniform(-1, 1, (args.batch, r, r, 3)).astype(np.float32)
        seconds = time_layers(network, prepared, images, repeats=args.repeats)
        what = "NumPy reference"
    cost = count(network)
    layers = profile_table(cost, seconds, args.batch)
    kinds = kind_table(layers, args.batch)
    total_s = sum(seconds.values())
    total_gflops = 2 * cost.mult_adds * args.batch / total_s / 1e9
    one = kinds[kinds["kind"] == ONE_BY_ONE]
    if len(one):
        share = (
            f"1x1 convolutions: {one['mult_adds_pct'].iloc[0]:.2f} % of Mult-Adds, "
            f"{one['time_pct'].iloc[0]:.1f} % of measured time in {what}; {PAPER_CLAIM}."
        )
    else:
        share = f"no 1x1 convolutions in this network; {PAPER_CLAIM}."
    summary = (
        f"Total: {1e3 * total_s:.2f} ms per forward pass of {args.batch} image(s), "
        f"{total_gflops:.1f} GFLOP/s (FLOPs = 2 x Mult-Adds), median of {args.repeats} per layer"
        + (
            ", best of 3 rounds, per node from the runtime's profiler (which adds a few us per node)."
            if args.runtime == "onnxruntime"
            else "."
        )
    )
    if args.format == "json":
        text = dump_json(
            {
                "network": network.name,
                "config": dict(network.config),
                "runtime": args.runtime,
                "batch": args.batch,
                "total_ms": 1e3 * total_s,
                "gflops_per_s": total_gflops,
                "by_kind": records(kinds),
                "layers": records(layers),
            },
            indent=2,
        )
    elif args.format == "csv":
        text = render(layers, "csv")
    else:
        title = f"{network.name}: {what}, batch {args.batch}"
        text = "\n\n".join(
            [
                render(layers, args.format, title=f"{title}, per layer"),
                render(kinds, args.format, title=f"{title}, per layer type (Table 2 rows)"),
                summary,
                share,
            ]
        )
    emit(text, args.out)
    return 0

"""``costmodel run``: classify an image (or a random one) with the NumPy reference implementation."""

from __future__ import annotations

import argparse

from ._common import add_network_arguments, add_output_arguments, apply_threads, emit, positive_int
from ._reference import add_reference_arguments, network_and_weights

NAME = "run"
HELP = "classify an image with the NumPy reference implementation: top-5 classes and latency"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, weights=True)
    add_reference_arguments(parser)
    parser.add_argument(
        "--image",
        help="PNG or JPEG file; cropped (TF-slim, timm: the central 0.875), resized and scaled to -1..1 as the "
        "flavour's framework does. Without it, a random image",
    )
    parser.add_argument("--top", type=positive_int, default=5, help="how many classes to print (default 5)")
    parser.add_argument(
        "--repeats", type=positive_int, default=5, help="timed forward passes after a warm-up (default 5)"
    )
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    apply_threads(args.threads)  # before NumPy loads
    threads = args.threads or 1  # depthwise threads
    import time

    import numpy as np

    from ..errors import InputError
    from ..reference import forward, prepare
    from ..reference.images import load_image, random_image
    from ..reference.kernels import softmax
    from ..spec.flavours import FLAVOURS

    network, weights = network_and_weights(args)
    size = network.input_size
    flavour = FLAVOURS.get(str(network.config.get("flavour")))  # its input preprocessing (crop, mean, std)
    pre = flavour.preprocessing if flavour is not None else None
    image = load_image(args.image, size, pre) if args.image is not None else random_image(size, seed=args.seed)
    prepared = prepare(network, weights, threads=threads)
    del weights
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, as one error
        logits = forward(network, prepared, image)
    first_ms = 1e3 * (time.perf_counter() - start)
    finite = np.isfinite(np.asarray(logits))
    bad = int(finite.size - np.count_nonzero(finite))
    if bad:  # finite but huge weights overflow float32 inside the network: say so, never print NaN
        raise InputError(
            f"{bad} of {finite.size} logits are NaN or infinite: float32 overflowed inside the network; the "
            f"weights{f' in {args.weights!r}' if args.weights else ''} are too large for float32 arithmetic"
        )
    times_ms = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        forward(network, prepared, image)
        times_ms.append(1e3 * (time.perf_counter() - start))
    probabilities = softmax(logits)[0]
    top = np.argsort(-probabilities, kind="stable")[: args.top]
    source = args.image or f"random image (seed {args.seed})"
    weights_from = args.weights or f"seeded (seed {args.seed})"
    median_ms = float(np.median(times_ms))
    emit(_result_text(args, network.name, source, weights_from, top, probabilities, median_ms, first_ms), args.out)
    return 0


def _result_text(args, name, source, weights_from, top, probabilities, median_ms, first_ms) -> str:  # type: ignore[no-untyped-def]
    """The top classes and the latency in the chosen format (the table form is the lines this command always
    printed)."""
    import pandas as pd

    from ..checks import dump_json
    from ..report.tables import records, render

    df = pd.DataFrame(
        {
            "rank": list(range(1, len(top) + 1)),
            "class": [int(c) for c in top],
            "probability": [float(probabilities[c]) for c in top],
        }
    )
    latency = f"latency: {median_ms:.2f} ms median of {args.repeats} (batch 1; first pass {first_ms:.2f} ms)"
    if args.format == "json":
        return dump_json(
            {
                "network": name,
                "image": source,
                "weights": weights_from,
                "top": records(df),
                "latency_ms_median": median_ms,
                "first_pass_ms": first_ms,
                "repeats": args.repeats,
            },
            indent=2,
        )
    if args.format == "csv":
        return render(df, "csv")
    title = f"{name} on {source}, weights: {weights_from}"
    if args.format == "markdown":
        return render(df, "markdown", title=title, float_digits=4) + "\n\n" + latency
    lines = [title, f"{'rank':>4}  {'class':>5}  probability"]
    lines += [f"{r:>4}  {c:>5}  {p:.4f}" for r, c, p in zip(df["rank"], df["class"], df["probability"], strict=True)]
    return "\n".join([*lines, latency])

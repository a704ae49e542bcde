"""Arguments and helpers shared by the reference-implementation subcommands (run, profile, export-onnx)."""

from __future__ import annotations

import argparse

from ..spec.layers import ACTIVATIONS
from ..spec.network import Network
from ._common import add_threads_argument


def add_reference_arguments(parser: argparse.ArgumentParser) -> None:
    """--activation, --padding, --weights, --seed, --threads: how to run it, where its weights come from."""
    g = parser.add_argument_group("reference implementation")
    g.add_argument(
        "--activation",
        choices=[a for a in ACTIVATIONS if a],
        default="relu",
        help="after each conv: relu (the paper) or relu6 (Keras/TF-slim checkpoints); default relu",
    )
    g.add_argument(
        "--padding",
        choices=("same", "symmetric"),
        default="same",
        help="padding convention: TF SAME (Keras weights) or symmetric pad-1 (PyTorch); default same",
    )
    g.add_argument("--weights", help="weights file: .npz (costmodel) or Keras mobilenet_<alpha>_<size>_tf.h5")
    g.add_argument("--seed", type=int, default=0, help="seed of the initial weights when no --weights (default 0)")

    add_threads_argument(
        parser,
        0,
        "; the depthwise layers use as many threads (1 with 0). On a busy machine, 1 avoids "
        "threads waiting for each other",
    )


def weights_from_args(network: Network, args: argparse.Namespace) -> dict:
    """Load and validate ``--weights``, or initialise them from ``--seed``."""
    from ..reference import init_weights, load_weights

    if args.weights:
        return load_weights(network, args.weights)
    return init_weights(network, seed=args.seed)

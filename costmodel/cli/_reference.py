"""Arguments and helpers shared by the reference-implementation subcommands (run, profile, export-onnx)."""

from __future__ import annotations

import argparse

from ..spec.layers import ACTIVATIONS
from ..spec.network import Network
from ._common import add_threads_argument, int_at_least


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
    g.add_argument(
        "--seed",
        type=int_at_least(0, 2**63 - 1),
        default=0,
        help="seed of the initial weights when no --weights (default 0)",
    )

    g.add_argument(
        "--memory-limit",
        metavar="BYTES",
        help="refuse a run estimated to need more memory than this, e.g. 16G (default: $COSTMODEL_MEMORY_LIMIT, "
        "else 4Gi)",
    )
    add_threads_argument(parser, why="; the depthwise layers use as many threads (1 with 0)")


def weights_from_args(network: Network, args: argparse.Namespace) -> dict:
    """Load and validate ``--weights``, or initialise them from ``--seed``; first, refuse a run that would need
    more memory than the limit (estimated from the spec, before anything is allocated)."""
    from ..reference import init_weights, load_weights
    from ..reference.limits import check_memory, executor_bytes, export_bytes, memory_limit

    limit = memory_limit(args.memory_limit)
    if args.command == "export-onnx":
        check_memory(export_bytes(network), f"exporting {network.name}", limit)
    else:
        batch = getattr(args, "batch", 1)
        check_memory(executor_bytes(network, batch), f"running {network.name} on {batch} image(s)", limit)
    if args.weights is not None:
        return load_weights(network, args.weights)
    return init_weights(network, seed=args.seed)

"""Arguments and helpers shared by the reference-implementation subcommands (run, profile, export-onnx)."""

from __future__ import annotations

import argparse
import os
import sys

from ..network import Network


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a bad value is a one-line usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_reference_arguments(parser: argparse.ArgumentParser) -> None:
    """--activation, --padding, --weights, --seed, --threads: how to run it, where its weights come from."""
    g = parser.add_argument_group("reference implementation")
    g.add_argument(
        "--activation",
        choices=("relu", "relu6"),
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
        "--seed", type=int, default=0, help="seed of the initial weights when no --weights (default 0)"
    )
    g.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="threads for the matrix products (sets OPENBLAS_NUM_THREADS before NumPy loads) and the "
        "depthwise layers; default: BLAS as the environment sets it, depthwise on 1 thread. On a busy "
        "machine, 1 avoids threads waiting for each other",
    )


def apply_threads(args: argparse.Namespace) -> int:
    """Fix the BLAS thread count from ``--threads`` before NumPy is imported; return the depthwise threads."""
    if args.threads is None:
        return 1
    if "numpy" not in sys.modules:  # OpenBLAS reads these once, when NumPy loads it
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    return args.threads


def weights_from_args(network: Network, args: argparse.Namespace) -> dict:
    """Load and validate ``--weights``, or initialise them from ``--seed``."""
    from ..reference import init_weights, load_weights

    if args.weights:
        return load_weights(network, args.weights)
    return init_weights(network, seed=args.seed)

"""Arguments and helpers shared by the reference-implementation subcommands (run, profile, export-onnx)."""

from __future__ import annotations

import argparse
import sys
import warnings

from ..errors import SpecError
from ..spec.network import Network
from ._common import add_threads_argument, given_network_options, int_at_least, network_from_args, network_name


def add_reference_arguments(parser: argparse.ArgumentParser) -> None:
    """--weights, --seed, --memory-limit, --threads: how to run it, where its weights come from (the network and
    its options, --activation included, are :func:`add_network_arguments`'). Padding is each layer's, from the
    flavour (--flavour, or the weights file's)."""
    g = parser.add_argument_group("reference implementation")
    g.add_argument(
        "--weights",
        help="weights file: .npz (costmodel), Keras .h5 / .weights.h5, timm .safetensors; its layout sets the "
        "flavour, its shapes alpha, Keras' file name the resolution",
    )
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


def check_memory_for(network: Network, args: argparse.Namespace) -> None:
    """Refuse a run estimated (from the spec, by the memory model) to need more than the memory limit."""
    from ..reference.limits import check_memory, executor_bytes, export_bytes, memory_limit

    limit = memory_limit(args.memory_limit)
    if args.command == "export-onnx":
        check_memory(export_bytes(network), f"exporting {network.name}", limit)
    else:
        batch = getattr(args, "batch", 1)
        check_memory(executor_bytes(network, batch), f"running {network.name} on {batch} image(s)", limit)


def network_and_weights(args: argparse.Namespace) -> tuple[Network, dict]:
    """The network and its weights: read from ``--weights`` (the network the file was made for, flavour and
    α from the file unless given; a contradicting α, resolution or class count an error, a contradicting flavour
    or activation warned about on stderr), or built
    from the arguments with weights seeded by ``--seed``."""
    from ..reference import init_weights, load_network

    if args.weights is None:
        network = network_from_args(args)
        check_memory_for(network, args)  # before anything is allocated
        return network, init_weights(network, seed=args.seed)
    if getattr(args, "spec", None) is not None or network_name(args) != "mobilenet_v1":
        raise SpecError("--weights reads MobileNetV1 weights; it cannot be combined with --spec or --network")
    resolution = given_network_options(args).get("resolution")  # --resolution, or --network mobilenet_v1@RES
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network, weights = load_network(
            args.weights, alpha=args.alpha, resolution=resolution, flavour=args.flavour,
            activation=args.activation, shallow=args.shallow or None, separable=False if args.full_conv else None,
            num_classes=args.num_classes,
            memory_limit=args.memory_limit,  # the file's declared arrays, before any is read
        )  # fmt: skip
        if args.rho is not None:
            raise SpecError("--rho cannot be combined with --weights; give --resolution")
    for w in caught:
        print(f"costmodel: warning: {w.message}", file=sys.stderr)
    check_memory_for(network, args)  # the file's arrays are checked against the spec as they are read
    return network, weights

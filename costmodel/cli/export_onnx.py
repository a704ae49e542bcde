"""``costmodel export-onnx``: write one network (MobileNetV1 by default) and its weights as an ONNX model."""

from __future__ import annotations

import argparse

from ._common import add_network_arguments
from ._reference import add_reference_arguments, network_and_weights

NAME = "export-onnx"
RESULT = False  # it writes an ONNX model to --out
HELP = "write a network (MobileNetV1, a built-in network or a JSON spec) and its weights (loaded or seeded) as ONNX"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, weights=True)
    add_reference_arguments(parser)
    parser.add_argument("--out", required=True, help="the .onnx file to write (atomically)")


def run(args: argparse.Namespace) -> int:
    from ..reference.onnx_export import save_onnx, to_onnx

    network, weights = network_and_weights(args)
    path = save_onnx(to_onnx(network, weights), args.out)
    print(f"wrote {path} ({network.name}; input 'images' NHWC, outputs 'logits', 'probabilities')")
    return 0

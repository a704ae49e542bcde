"""``costmodel convert-weights``: rewrite a MobileNetV1 weight file in another framework's layout."""

from __future__ import annotations

import argparse

from ._common import positive_int

NAME = "convert-weights"
RESULT = False  # it writes a weights file (OUT)
OUTPUT_ARGS = ("target",)  # main() checks these like --out, before anything is read or converted
HELP = "rewrite a weight file (npz, Keras .h5/.weights.h5, timm .safetensors) in another layout"


#: The layouts ``--to`` accepts: the keys of :data:`costmodel.reference.weights.CONVERSIONS`, spelled here so that
#: building the parser does not import NumPy (the commands set BLAS threads before NumPy loads; a test checks both).
TARGETS = ("keras", "keras3", "timm", "npz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="IN", help="weights file: .npz, Keras .h5 / .weights.h5, timm .safetensors")
    parser.add_argument("target", metavar="OUT", help="the file to write (atomically)")
    parser.add_argument(
        "--to",
        required=True,
        choices=TARGETS,
        help="keras: Keras 2 .h5 (Keras 3 reads it too); keras3: .weights.h5; timm: .safetensors; npz: ours",
    )
    parser.add_argument(
        "--resolution",
        type=positive_int,
        default=None,
        help="recorded in the output where the layout can (default the file's)",
    )
    parser.add_argument(
        "--memory-limit",
        metavar="BYTES",
        help="refuse a file whose arrays, with the copies converting them needs, would take more memory than "
        "this, e.g. 16G (default: $COSTMODEL_MEMORY_LIMIT, else 4Gi); checked before any array is read",
    )


def run(args: argparse.Namespace) -> int:
    from ..reference.weights import convert_weights

    network, notes = convert_weights(
        args.source, args.target, args.to, resolution=args.resolution, memory_limit=args.memory_limit
    )
    print(f"wrote {args.target} ({network.name}, {args.to} layout)")
    for note in notes:
        print(f"note: {note}")
    return 0

"""``costmodel export-tflite``: write a network and its weights as a ``.tflite`` file, float32 or int8."""

from __future__ import annotations

import argparse

from ._common import add_network_arguments, positive_int
from ._reference import add_reference_arguments, network_and_weights

NAME = "export-tflite"
RESULT = False  # it writes a .tflite file to --out
HELP = "write a network with its weights (loaded or seeded) as a .tflite file (float32, or int8 per TFLite's spec)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, weights=True)
    add_reference_arguments(parser)
    parser.add_argument("--out", required=True, help="the .tflite file to write (atomically)")
    parser.add_argument(
        "--dtype",
        choices=("float32", "int8"),
        default="float32",
        help="float32 (default), or int8: int8 weights (per channel) and activations (per tensor), int32 "
        "biases, int8 input and output",
    )
    parser.add_argument(
        "--softmax", action="store_true", help="float32: end with the network's softmax (default: output the logits)"
    )
    g = parser.add_argument_group("int8 calibration (activation ranges)")
    g.add_argument(
        "--image",
        action="append",
        metavar="FILE",
        help="a representative PNG or JPEG, preprocessed as the flavour's framework does (repeat for more)",
    )
    g.add_argument(
        "--random-images",
        type=positive_int,
        default=None,
        metavar="N",
        help="without --image: N random images uniform in -1..1, seeded by --seed (default 8)",
    )
    g.add_argument("--ranges", metavar="FILE", help='JSON {"tensor name": [min, max], ...} instead of images')
    g.add_argument(
        "--save-ranges", metavar="FILE", help="also write the activation ranges used, as JSON (for --ranges later)"
    )


def run(args: argparse.Namespace) -> int:
    from .._files import atomic_write_many
    from ..checks import dump_json
    from ..errors import CostModelError, InputError
    from ..reference.tflite_export import to_tflite
    from ..reference.tflite_graph import activation_ranges

    given = [o for o in ("image", "random_images", "ranges", "save_ranges") if getattr(args, o) is not None]
    if args.dtype == "float32" and given:
        raise InputError(
            "--image, --random-images, --ranges and --save-ranges calibrate an int8 export; add --dtype int8"
        )
    if args.ranges is not None and (args.image is not None or args.random_images is not None):
        raise InputError("give --ranges or representative images (--image, --random-images), not both")
    network, weights = network_and_weights(args)
    ranges = None
    if args.dtype == "int8":
        if args.ranges is not None:
            ranges = _read_ranges(args.ranges)
        else:
            ranges = activation_ranges(network, weights, _images(args, network))
    data, q = to_tflite(network, weights, dtype=args.dtype, ranges=ranges, softmax=args.softmax)
    outputs = [(args.out, lambda f: f.write(data))]
    if args.save_ranges is not None:
        text = dump_json({name: list(pair) for name, pair in (ranges or {}).items()}, indent=2)
        outputs.append((args.save_ranges, lambda f: f.write(text.encode())))
    path = atomic_write_many(outputs, CostModelError)[0]  # both files or neither
    if q is None:
        what = "probabilities" if args.softmax else "logits"
        print(f"wrote {path} ({network.name}, float32; input 'input' NHWC, output: the {what})")
    else:
        qi, qo = q.tensors[q.graph.input], q.tensors[q.graph.output]
        print(
            f"wrote {path} ({network.name}, int8; input 'input' int8 NHWC: q = round(x / {float(qi.scale):.9g}) "
            f"{_signed(qi.zero_point)}; output '{q.graph.output}' int8 logits: x = {float(qo.scale):.9g} x (q "
            f"{_signed(-qo.zero_point)}))"
        )
    return 0


def _signed(v: int) -> str:
    return f"+ {v}" if v >= 0 else f"- {-v}"


def _images(args: argparse.Namespace, network: object) -> object:
    import numpy as np

    from ..reference.images import load_image
    from ..spec.flavours import FLAVOURS

    size = network.input_size  # type: ignore[attr-defined]
    if args.image:
        flavour = FLAVOURS.get(str(network.config.get("flavour")))  # type: ignore[attr-defined]
        pre = flavour.preprocessing if flavour is not None else None
        return np.concatenate([load_image(p, size, pre) for p in args.image])
    n = args.random_images or 8
    in_ch = network.in_ch  # type: ignore[attr-defined]
    return np.random.default_rng(args.seed).uniform(-1, 1, (n, size, size, in_ch)).astype(np.float32)


def _read_ranges(path: str) -> dict[str, tuple[float, float]]:
    import json
    import math

    from .._files import check_input
    from ..errors import InputError

    checked = check_input(path, "ranges file", InputError, 16 << 20)
    try:
        doc = json.loads(checked.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read ranges from {path!r}: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(f'{path}: ranges must be a JSON object {{"tensor": [min, max]}}, got {type(doc).__name__}')
    out = {}
    for name, pair in doc.items():
        ok = isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair)
        if not ok or not all(math.isfinite(v) for v in pair) or pair[0] > pair[1]:
            raise InputError(f"{path}: range of {name!r} must be [min, max] with finite min <= max, got {pair!r}")
        out[name] = (float(pair[0]), float(pair[1]))
    return out

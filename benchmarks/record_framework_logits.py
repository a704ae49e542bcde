"""Cross-check costmodel's flavours against the real frameworks, and record their logits as a test fixture.

Not part of the test suite (the suite never imports a framework): run it by hand in a separate environment
with Keras 3 (any backend) and timm + PyTorch installed beside an editable costmodel, e.g.

    python -m venv /tmp/fw && /tmp/fw/bin/pip install -e . keras torch timm h5py safetensors
    KERAS_BACKEND=torch /tmp/fw/bin/python benchmarks/record_framework_logits.py \
        --out tests/fixtures/framework_logits.json

(Recorded here with Keras 3.15.1 on the torch backend, timm 1.0.31 and torch 2.13.0 CPU; timm's import of
torchvision, which would not install beside that torch, was satisfied by an empty stand-in module outside the
repository: mobilenetv1_100 uses no torchvision code.)

For each configuration it writes costmodel's seeded weights (``init_weights``) in the framework's layout with
costmodel's writer, loads them into the framework's own model (``keras.applications.MobileNet`` with
``classifier_activation=None``; ``timm.create_model("mobilenetv1_100")``) and runs it on seeded images; then it
saves the framework's own files (Keras 3 ``save_weights`` -> ``.weights.h5`` and ``model.save`` -> legacy
``.h5``; timm ``state_dict`` -> ``.safetensors``) and reads them back with costmodel. It prints costmodel's
relative error against each framework and writes the frameworks' logits, which
``tests/test_framework_fixture.py`` compares costmodel's forward pass against.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

import costmodel
from costmodel.reference import forward, init_weights, load_network, save_weights

KERAS_CASES = [(0.25, 64), (0.25, 65), (0.5, 97), (0.5, 200)]  # even and odd: Keras' floor(n/2) at odd sizes
TIMM_CASES = [(1.0, 64), (1.0, 65)]  # mobilenetv1_100 is alpha 1.0
CLASSES = 10
SEED = 21


def images(resolution: int, n: int = 2) -> np.ndarray:
    return np.random.default_rng(SEED).uniform(-1, 1, (n, resolution, resolution, 3)).astype(np.float32)


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def keras_cases(tmp: Path) -> list[dict]:
    import keras

    out = []
    for alpha, r in KERAS_CASES:
        net = costmodel.mobilenet_v1(alpha, r, num_classes=CLASSES, flavour="keras")
        w = init_weights(net, seed=SEED)
        ours = forward(net, w, images(r))
        model = keras.applications.MobileNet(
            input_shape=(r, r, 3), alpha=alpha, weights=None, classes=CLASSES, classifier_activation=None
        )
        h5 = save_weights(net, w, tmp / f"mobilenet_{alpha}_{r}.h5", format="keras")
        model.load_weights(str(h5))  # Keras 3 reads costmodel's Keras 2 layout
        theirs = np.asarray(model.predict(images(r), verbose=0))
        k3 = tmp / f"m_{alpha}_{r}.weights.h5"
        model.save_weights(str(k3))
        legacy = tmp / f"m_{alpha}_{r}_legacy.h5"
        model.save(str(legacy))
        back = {}
        for name, path in (("keras3", k3), ("keras3-legacy", legacy)):
            n2, w2 = load_network(path, resolution=r)
            same = set(w2) == set(w) and all(np.array_equal(w2[k], w[k]) for k in w)
            back[name] = {"network": n2.name, "arrays_identical": same}
        sizes = {
            layer.name: tuple(layer.output.shape[1:3]) for layer in model.layers if layer.name.startswith("conv_dw")
        }
        assert all(sizes[n.name] == (n.out_size, n.out_size) for n in net if n.name.startswith("conv_dw")), sizes
        out.append(
            {
                "framework": f"keras {keras.__version__} ({keras.backend.backend()} backend)",
                "flavour": "keras", "alpha": alpha, "resolution": r, "num_classes": CLASSES, "seed": SEED,
                "rel_error": rel_error(ours, theirs), "read_back": back, "logits": theirs.tolist(),
            }
        )  # fmt: skip
    return out


def timm_cases(tmp: Path) -> list[dict]:
    import timm
    import torch
    from safetensors.torch import load_file, save_file

    out = []
    for alpha, r in TIMM_CASES:
        net = costmodel.mobilenet_v1(alpha, r, num_classes=CLASSES, flavour="timm")
        w = init_weights(net, seed=SEED)
        ours = forward(net, w, images(r))
        model = timm.create_model("mobilenetv1_100", pretrained=False, num_classes=CLASSES).eval()
        st = save_weights(net, w, tmp / f"m_{r}.safetensors", format="safetensors")
        missing, unexpected = model.load_state_dict(load_file(str(st)), strict=False)
        assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
        with torch.no_grad():
            theirs = model(torch.from_numpy(images(r).transpose(0, 3, 1, 2).copy())).numpy()
        own = tmp / f"timm_{r}.safetensors"
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(own))
        n2, w2 = load_network(own, resolution=r)
        same = set(w2) == set(w) and all(np.array_equal(w2[k], w[k]) for k in w)
        out.append(
            {
                "framework": f"timm {timm.__version__}, torch {torch.__version__}",
                "flavour": "timm", "alpha": alpha, "resolution": r, "num_classes": CLASSES, "seed": SEED,
                "rel_error": rel_error(ours, theirs),
                "read_back": {"timm-safetensors": {"network": n2.name, "arrays_identical": same}},
                "logits": theirs.tolist(),
            }
        )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the recorded logits here (JSON)")
    args = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "torch")
    with tempfile.TemporaryDirectory() as d:
        cases = keras_cases(Path(d)) + timm_cases(Path(d))
    for c in cases:
        back = ", ".join(
            f"{k}: {'identical' if v['arrays_identical'] else 'DIFFERENT'}" for k, v in c["read_back"].items()
        )
        print(f"{c['flavour']:6} {c['alpha']:<5} {c['resolution']:>4}  rel. error {c['rel_error']:.1e}  "
              f"files read back ({back})  [{c['framework']}]")  # fmt: skip
    if args.out:
        doc = {
            "note": "Logits of the real frameworks on costmodel's seeded weights (init_weights(net, seed)) and "
            "seeded images (default_rng(seed).uniform(-1, 1, (2, r, r, 3))); recorded by "
            "benchmarks/record_framework_logits.py",
            "cases": cases,
        }
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    return 0 if all(c["rel_error"] < 1e-4 for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())

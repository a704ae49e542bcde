"""Every Python snippet of the README runs, in order, in one namespace (as a reader would paste them).

The snippets lean on names and files the surrounding text introduces: ``images`` (a batch for the reference),
``profile`` (a device profile), ``doc`` (a network document) and Keras' ``mobilenet_5_0_160_tf.h5`` (written
here in Keras' layout, in a scratch folder). The prelude makes those and nothing else; a snippet that names
anything more, or calls an API that changed, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import costmodel
from costmodel.latency import DeviceProfile

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_the_readme_has_snippets():
    assert len(SNIPPETS) >= 5


def test_every_snippet_runs_in_order(tmp_path, monkeypatch):
    from costmodel.reference import init_weights, save_weights

    monkeypatch.chdir(tmp_path)
    keras = costmodel.mobilenet_v1(0.5, 160, flavour="keras")
    save_weights(keras, init_weights(keras), "mobilenet_5_0_160_tf.h5", format="keras")
    namespace: dict[str, object] = {
        # the text's "images": a batch for the network the snippet before it built
        "profile": DeviceProfile(1e11, 1e10, default_efficiency=0.5, name="readme"),
        "doc": costmodel.mobilenet_v1(0.5, 160).to_dict(),
    }
    for i, snippet in enumerate(SNIPPETS):
        if "images" in snippet and "net" in namespace:
            net = namespace["net"]
            namespace["images"] = np.zeros((1, net.input_size, net.input_size, net.in_ch), np.float32)  # type: ignore[attr-defined]
        try:
            exec(compile(snippet, f"README.md python snippet {i}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"README python snippet {i} fails: {type(exc).__name__}: {exc}\n{snippet}")

"""costmodel's forward pass against logits recorded from the real frameworks (Keras 3 and timm/PyTorch) on the
same seeded weights and images: tests/fixtures/framework_logits.json, written by
benchmarks/record_framework_logits.py (run by hand where the frameworks are installed; the suite imports none).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import costmodel
from costmodel.reference import forward, init_weights

CASES = json.loads((Path(__file__).parent / "fixtures" / "framework_logits.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['flavour']}-{c['alpha']}-{c['resolution']}")
def test_forward_matches_the_framework(case):
    r = case["resolution"]
    net = costmodel.mobilenet_v1(case["alpha"], r, num_classes=case["num_classes"], flavour=case["flavour"])
    weights = init_weights(net, seed=case["seed"])
    images = np.random.default_rng(case["seed"]).uniform(-1, 1, (2, r, r, 3)).astype(np.float32)
    want = np.array(case["logits"])
    # two float32 implementations, 28 layers: ~1e-6 measured; 1e-4 of the largest logit catches any padding,
    # epsilon or activation difference between flavours (those move the logits by percents)
    np.testing.assert_allclose(forward(net, weights, images), want, rtol=0, atol=1e-4 * np.abs(want).max())
    assert all(v["arrays_identical"] for v in case["read_back"].values())  # the frameworks' own files read back


def test_the_fixture_covers_odd_sizes_and_both_frameworks():
    seen = {(c["flavour"], c["resolution"] % 2) for c in CASES}
    assert seen == {("keras", 0), ("keras", 1), ("timm", 0), ("timm", 1)}

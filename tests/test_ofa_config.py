"""OFA's subnet configs (``{"ks": [...], "e": [...], "d": [...]}``) to and from the OFA space's genes.

The oracle for what a config means is a direct build in this file, written from OFA's own code
(``ofa_mbv3.py``: ``set_active_subnet`` takes a kernel and an expansion per block, 20 of them, and a depth per
stage; a stage runs its first ``d`` blocks) on the spec's ``inverted_residual``, without the space's gene
machinery; the space's per-candidate build and its population costing must agree with it.

OFA's published specialised subnets (``ofa_specialized``) are downloaded from its model hub at run time and
are not in its repository; the configs below are written in OFA's format: the supernet's largest and
smallest subnets (``set_max_net``/``set_min_net``), a mixed one, and seeded samples.
"""

from __future__ import annotations

import numpy as np
import pytest

import costmodel
from costmodel.errors import SpecError
from costmodel.search.ofa import ACTIVATIONS, BASE_STAGE_WIDTH, SE, STRIDES, ofa_config, ofa_genes
from costmodel.spec.blocks import inverted_residual
from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear
from costmodel.spec.zoo import make_divisible

SPACE = costmodel.search_space("ofa_mobilenet_v3")

CONFIGS = {
    "max": {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5},
    "min": {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5},
    "mixed": {
        "ks": [3, 5, 7, 5, 3, 3, 7, 7, 7, 3, 7, 5, 7, 7, 3, 7, 5, 7, 7, 5],
        "e": [3, 6, 4, 3, 4, 3, 6, 4, 3, 3, 6, 6, 4, 6, 6, 3, 3, 3, 6, 6],
        "d": [2, 3, 4, 3, 2],
        "image_size": 192,  # OFA's configs may carry a resolution; ofa_genes ignores extra keys
    },
}


def direct_build(config: dict, resolution: int) -> costmodel.Network:
    """OFA MobileNetV3 w1.0 from a config, following ofa_mbv3.py directly (the stages' first d blocks)."""
    w = BASE_STAGE_WIDTH
    layers = [Conv2d("first_conv", 3, w[0], 3, 2, padding=1, activation="hardswish")]
    layers += inverted_residual("blocks.0", w[0], w[1], expand_ch=w[0], kernel=3, stride=1, activation="relu")
    ch, block = w[1], 0
    for stage in range(5):
        for i in range(4):
            k, e = config["ks"][block], config["e"][block]
            block += 1
            if i >= config["d"][stage]:
                continue
            mid = make_divisible(round(ch * e))
            layers += inverted_residual(
                f"blocks.{block}", ch, w[stage + 2], expand_ch=mid, kernel=k,
                stride=STRIDES[stage + 1] if i == 0 else 1, activation=ACTIVATIONS[stage + 1],
                se_ch=make_divisible(mid // 4) if SE[stage + 1] else None, se_activation="relu",
                se_gate="hardsigmoid",
            )  # fmt: skip
            ch = w[stage + 2]
    layers += [
        Conv2d("final_expand_layer", ch, w[7], 1, activation="hardswish"),
        GlobalAvgPool("global_avg_pool"),
        Conv2d("feature_mix_layer", w[7], w[8], 1, batch_norm=False, activation="hardswish"),
        Linear("classifier", w[8], 1000),
    ]
    return costmodel.Network(layers, resolution, 3)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_config_costs_what_its_network_costs(name):
    config = CONFIGS[name]
    resolution = config.get("image_size", 224)
    genes = ofa_genes(SPACE, config)
    expected = costmodel.count(direct_build(config, resolution))
    built = costmodel.count(SPACE.build(genes, resolution))
    population = costmodel.cost_population(SPACE, genes, resolution)
    assert (built.mult_adds, built.params) == (expected.mult_adds, expected.params)
    assert (int(population.mult_adds[0]), int(population.params[0])) == (expected.mult_adds, expected.params)


def test_seeded_samples_agree_with_the_direct_build():
    genes = SPACE.sample(20, seed=3)
    population = costmodel.cost_population(SPACE, genes, 224)
    for i in range(len(genes)):
        expected = costmodel.count(direct_build(ofa_config(SPACE, genes[i : i + 1]), 224))
        assert int(population.mult_adds[i]) == expected.mult_adds


def test_round_trip_keeps_every_gene():
    genes = SPACE.sample(500, seed=11)
    back = np.concatenate([ofa_genes(SPACE, ofa_config(SPACE, genes[i : i + 1])) for i in range(len(genes))])
    assert (back == genes).all()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ks": [9] * 20, "e": [6] * 20, "d": [4] * 5}, r"ks\[0\] = 9"),
        ({"ks": [7] * 20, "e": [6] * 20, "d": [5] * 5}, r"d\[0\] = 5"),
        ({"ks": [7] * 19, "e": [6] * 20, "d": [4] * 5}, "list of 20"),
        ({"ks": [7] * 20, "e": [6] * 20}, "'d'"),
        ({"ks": [True] * 20, "e": [6] * 20, "d": [4] * 5}, "True"),
        ([7, 6, 4], "dict"),
    ],
)
def test_bad_configs_name_the_value(config, message):
    with pytest.raises(SpecError, match=message):
        ofa_genes(SPACE, config)


def test_other_spaces_are_refused():
    v1 = costmodel.search_space("mobilenet_v1")
    with pytest.raises(SpecError, match="ofa_mobilenet_v3"):
        ofa_config(v1, v1.sample(1))

"""The NAS-Bench-201 space: its cell read off the benchmark's code, its 15,625 candidates costed at once equal to
each costed alone, and the benchmark's published parameter and FLOP ranges reproduced exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import costmodel
from costmodel.counting.memory import memory
from costmodel.errors import SpecError
from costmodel.paper.published import read_csv
from costmodel.search.nasbench201 import (
    EDGES,
    OPERATIONS,
    arch_string,
    genes_of,
    nasbench201_network,
    nasbench201_space,
)
from costmodel.spec.layers import Graph, Sum

ALL = np.array(list(itertools.product(range(len(OPERATIONS)), repeat=len(EDGES))), dtype=np.int8)
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def space():
    return costmodel.search_space("nasbench201")


def test_the_space_as_the_benchmark_declares_it():
    # cell_operations.NAS_BENCH_201, in its order; 4 nodes, 6 edges; 15,625 encodings, all counted
    assert OPERATIONS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    doc = " ".join((nasbench201_space.__doc__ or "").split())
    assert "every encoding counts as distinct" in doc  # size() says how isomorphic cells are counted
    net = nasbench201_network(BEST)
    cells = [n for n in net.nodes if isinstance(n.layer, Graph) and ".node" in n.layer.nodes[-1].name]
    assert len(cells) == 15 and [n.out_ch for n in cells] == [16] * 5 + [32] * 5 + [64] * 5
    assert [n.out_size for n in cells] == [32] * 5 + [16] * 5 + [8] * 5
    node3 = cells[0].branches[0][-1]
    assert isinstance(node3.layer, Sum) and len(node3.sources) == 3  # node 3 sums three edges: not series-parallel
    assert net.nodes[-1].out_ch == 10


def test_arch_strings_round_trip_for_every_cell():
    strings = {arch_string(g) for g in ALL}
    assert len(strings) == len(ALL)
    assert all(genes_of(arch_string(g)) == g.tolist() for g in ALL[::97])
    assert arch_string(genes_of(BEST)) == BEST
    with pytest.raises(SpecError, match="not a NAS-Bench-201 architecture string"):
        genes_of("|nor_conv_3x3~1|+|none~0|none~1|+|none~0|none~1|none~2|")


def _formula(genes: np.ndarray, num_classes: int = 10, r: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Parameters and Mult-Adds (torch convention) by hand from the benchmark's modules: per cell, each edge's
    ReLU-conv(k)-BN has k^2 C^2 weights and 2C batch-norm parameters and k^2 C^2 (r/s)^2 Mult-Adds; the rest is
    fixed (stem, two ResNetBasicblocks, lastact, classifier). An independent count of the same networks."""
    kernel = np.array([0, 0, 1, 3, 0])[genes]  # none, skip, conv1x1, conv3x3, avg pool: the kernel or 0
    k2 = (kernel**2).sum(axis=1)
    convs = (kernel > 0).sum(axis=1)
    params = np.zeros(len(genes), dtype=np.int64)
    macs = np.zeros(len(genes), dtype=np.int64)
    for c, size in ((16, r), (32, r // 2), (64, r // 4)):
        params += 5 * (k2 * c * c + convs * 2 * c)
        macs += 5 * k2 * c * c * size * size
    fixed_p = 3 * 16 * 9 + 2 * 16  # stem conv + BN
    fixed_m = 3 * 16 * 9 * r * r
    for m, n, out in ((16, 32, r // 2), (32, 64, r // 4)):  # ResNetBasicblock(m, n, stride 2)
        fixed_p += 9 * m * n + 2 * n + 9 * n * n + 2 * n + m * n
        fixed_m += (9 * m * n + 9 * n * n + m * n) * out * out
    fixed_p += 2 * 64 + 64 * num_classes + num_classes  # lastact BN, classifier
    fixed_m += 64 * num_classes
    return params + fixed_p, macs + fixed_m


def test_population_equals_each_candidate_on_all_15625_cells(space):
    """cost_population on every cell == count and memory of each candidate built alone (and the hand formula)."""
    pop = costmodel.cost_population(space, ALL, 32, convention="torch")
    assert space.num_genes == 6 and space.size() == 5**6 == 15_625  # every encoding builds a different network
    params, macs = _formula(ALL.astype(np.int64))
    np.testing.assert_array_equal(pop.params, params)
    np.testing.assert_array_equal(pop.mult_adds, macs)
    each = np.empty((len(ALL), 3), dtype=np.int64)
    for i, genes in enumerate(ALL):
        net = space.build(genes, 32)
        if i % 1000 == 0:  # the space builds what the direct builder builds
            assert net == nasbench201_network(genes)
        c = costmodel.count(net, "torch")
        each[i] = c.mult_adds, c.params, memory(net).peak_live_elements
    np.testing.assert_array_equal(pop.mult_adds, each[:, 0])
    np.testing.assert_array_equal(pop.params, each[:, 1])
    np.testing.assert_array_equal(pop.peak_activation_bytes, 4 * each[:, 2])


@pytest.mark.parametrize("row", read_csv("nasbench201_ranges.csv"), ids=lambda r: f"{r['dataset']}-{r['quantity']}")
def test_published_ranges_over_the_benchmark(row):
    """The benchmark's own min and max of params and FLOPs (10^6) over the 15,625 networks, per dataset. Its FLOPs
    are Mult-Adds plus one operation per bias output ("torch+bias-ops"). The extremes are found over all cells
    with the hand formula (equal to the space on every cell: the test above), then counted by the space itself."""
    classes, resolution = int(row["num_classes"]), int(row["resolution"])
    params, macs = _formula(ALL.astype(np.int64), classes, resolution)
    values = params if row["quantity"] == "params" else macs + classes  # the classifier's bias outputs
    for pick, published in ((values.argmin(), row["min"]), (values.argmax(), row["max"])):
        net = nasbench201_network(ALL[pick], num_classes=classes, resolution=resolution)
        cost = costmodel.count(net, "torch+bias-ops")
        got = cost.params if row["quantity"] == "params" else cost.mult_adds
        assert got == values[pick] and got / 1e6 == float(published)
    assert arch_string(ALL[values.argmax()]) == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+" + (
        "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )  # the largest: every edge a 3x3 convolution

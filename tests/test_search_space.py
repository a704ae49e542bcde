"""Search spaces: genes, canonical keys against the networks they build, size() against brute-force enumeration,
sampling, mutation and crossover, and errors naming the bad value."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import costmodel
from costmodel.errors import SpecError
from costmodel.search import Block, SearchSpace, Stage
from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear, Residual


def _sep(name: str, stride: int, out: int) -> Block:
    def build(in_ch, kernel, width):
        ch = int(out * width)
        layers = (
            Conv2d(f"{name}.dw", in_ch, in_ch, kernel, stride, groups=in_ch),
            Conv2d(f"{name}.pw", in_ch, ch, 1),
        )
        return (Residual(name, layers),) if stride == 1 and ch == in_ch else layers

    return Block(name, build, {"kernel": (3, 5), "width": (0.5, 1.0)})


def tiny_space() -> SearchSpace:
    """Stem with a width gene, two stages with depth genes, a fixed head; residuals where shapes allow."""
    return SearchSpace(
        "tiny",
        [
            Block("stem", lambda in_ch, width: (Conv2d("stem", in_ch, width, 3, 2),), {"width": (8, 16)}),
            Stage("s1", [_sep("s1b1", 2, 16), _sep("s1b2", 1, 16)], depths=(1, 2)),
            Stage("s2", [_sep("s2b1", 2, 32), _sep("s2b2", 1, 32), _sep("s2b3", 1, 32)], depths=(1, 3)),
            Block("head", lambda in_ch: (GlobalAvgPool("pool"), Linear("fc", in_ch, 10))),
        ],
    )


def all_genes(space: SearchSpace) -> np.ndarray:
    return np.array(list(itertools.product(*(range(k) for k in space.gene_sizes))))


def test_tiny_space_size_and_keys_against_every_network_it_builds():
    space = tiny_space()
    genes = all_genes(space)
    keys = [space.key(g) for g in genes]
    nets = [space.build(g, 33) for g in genes]
    # Oracle: Network equality by value. Equal keys <=> equal networks, and size() counts the distinct ones.
    by_key: dict[tuple[int, ...], costmodel.Network] = {}
    for k, net in zip(keys, nets, strict=True):
        assert by_key.setdefault(k, net) == net
    assert len(set(nets)) == len(by_key) == space.size()
    # the same number by hand: stem 2 x stage1 (4 + 4*4) x stage2 (4 + 4**3)
    assert space.size() == 2 * (4 + 16) * (4 + 64)


def test_gene_names_and_counts():
    v1 = costmodel.search_space("mobilenet_v1")
    assert v1.num_genes == 27 and v1.genes[0].name == "conv1.width"
    assert [g.name for g in v1.genes[1:3]] == ["block1.kernel", "block1.width"]
    ofa = costmodel.search_space("ofa_mobilenet_v3")
    assert ofa.num_genes == 5 + 20 * 2
    assert ofa.genes[0].name == "stage1.depth" and ofa.genes[0].values == (2, 3, 4)
    assert [g.name for g in ofa.genes[1:3]] == ["blocks.1.kernel", "blocks.1.expand"]


def test_sizes_of_the_builtin_spaces():
    assert costmodel.search_space("mobilenet_v1").size() == 3**27
    assert costmodel.search_space("mobilenet_v1", widths=(0.25, 0.5, 0.75, 1.0), kernels=(3,)).size() == 4**14
    # OFA: per stage sum over depth d of (3 kernels x 3 expansions)^d; the paper's "about 2 x 10^19"
    size = costmodel.search_space("ofa_mobilenet_v3").size()
    assert size == (9**2 + 9**3 + 9**4) ** 5 == 21_758_655_492_572_485_851
    assert costmodel.search_space("ofa_mobilenet_v3", depths=(4,), kernels=(3,), expands=(6,)).size() == 1


def test_ofa_width_multiplier_follows_make_divisible():
    # OFA's w1.2 supernet: every width make_divisible(w * 1.2, 8): 24, 24, 32, 48, 96, 136, 192, 1152, 1536
    space = costmodel.search_space("ofa_mobilenet_v3", width_mult=1.2)
    net = space.build(np.zeros(space.num_genes, dtype=int), 224)
    assert [net["first_conv"].out_ch, net["blocks.0"].out_ch] == [24, 24]
    assert [net[f"blocks.{i}.project"].out_ch for i in (1, 5, 9, 13, 17)] == [32, 48, 96, 136, 192]
    assert [net["final_expand_layer"].out_ch, net["feature_mix_layer"].out_ch] == [1152, 1536]


def test_ofa_reduced_size_by_enumeration():
    space = costmodel.search_space("ofa_mobilenet_v3", depths=(1, 2), kernels=(3,), expands=(3, 4))
    keys = {tuple(row) for row in space.canonical(all_genes(space)).tolist()}
    assert len(keys) == space.size() == (2 + 4) ** 5


@pytest.mark.parametrize("name", ["mobilenet_v1", "ofa_mobilenet_v3"])
def test_inactive_genes_change_neither_network_nor_key(name):
    space = costmodel.search_space(name)
    genes = space.sample(60, seed=3)
    other = space.sample(60, seed=4)
    active = space.active(genes)
    mixed = np.where(active, genes, other)  # only the inactive genes differ
    for g, m in zip(genes, mixed, strict=True):
        assert space.key(g) == space.key(m)
        assert space.build(g, 129) == space.build(m, 129)
    # and changing one active gene changes both
    for g, act in zip(genes[:20], active[:20], strict=True):
        col = int(np.flatnonzero(act)[-1])
        h = g.copy()
        h[col] = (h[col] + 1) % space.gene_sizes[col]
        assert space.key(h) != space.key(g)
        assert space.build(h, 129) != space.build(g, 129)


@pytest.mark.parametrize("alpha", [0.5, 0.75, 1.0])
@pytest.mark.parametrize("resolution", [224, 161, 97])
def test_mobilenet_v1_space_contains_mobilenet_v1(alpha, resolution):
    space = costmodel.search_space("mobilenet_v1", widths=(0.5, 0.75, 1.0), kernels=(3, 5, 7))
    w = (0.5, 0.75, 1.0).index(alpha)
    genes = np.array([w] + [0, w] * 13)
    assert space.build(genes, resolution) == costmodel.mobilenet_v1(alpha, resolution)


@pytest.mark.parametrize("flavour", ["keras", "tfslim", "timm"])
def test_mobilenet_v1_space_follows_the_flavour(flavour):
    space = costmodel.search_space("mobilenet_v1", flavour=flavour)
    genes = np.array([2] + [0, 2] * 13)  # every width 1.0, every kernel 3
    for resolution in (224, 161):
        assert space.build(genes, resolution) == costmodel.mobilenet_v1(1.0, resolution, flavour=flavour)


def test_mobilenet_v1_space_per_block_choices():
    space = costmodel.search_space("mobilenet_v1")
    genes = np.array([0] + [2, 1] * 13)  # conv1 at 0.5, every depthwise 7x7, every pointwise at 0.75
    net = space.build(genes, 224)
    assert net["conv1"].out_ch == 16
    assert net["conv_dw_1"].layer.kernel == 7 and net["conv_dw_1"].in_ch == 16
    assert net["conv_pw_1"].out_ch == 48 and net["conv_dw_2"].in_ch == 48
    assert net["fc"].layer.in_features == 768


# OFAMobileNetV3 (mit-han-lab/once-for-all, ofa_mbv3.py), written out: per stage (width, first stride,
# activation, squeeze-and-excite), and the MBConv / SEModule channel rules, for an oracle built leaf by leaf.
OFA_STAGES = [(24, 2, "relu", False), (40, 2, "relu", True), (80, 2, "hardswish", False),
              (112, 1, "hardswish", True), (160, 2, "hardswish", True)]  # fmt: skip


def _divisible8(v):
    out = max(8, int(v + 4) // 8 * 8)
    return out + 8 if out < 0.9 * v else out


def ofa_leaves(depths, kernels, expands):
    """(name, in_ch, out_ch, kernel, stride, groups, activation) of every convolution, in order."""
    rows = [("first_conv", 3, 16, 3, 2, 1, "hardswish"), ("blocks.0.dw", 16, 16, 3, 1, 16, "relu"),
            ("blocks.0.project", 16, 16, 1, 1, 1, None)]  # fmt: skip
    ch, index, i = 16, 1, 0
    for (width, stride, act, se), depth in zip(OFA_STAGES, depths, strict=True):
        for b in range(4):
            name = f"blocks.{index}"
            if b < depth:
                k, mid = kernels[i], _divisible8(round(ch * expands[i]))
                s = stride if b == 0 else 1
                rows += [(f"{name}.expand", ch, mid, 1, 1, 1, act), (f"{name}.dw", mid, mid, k, s, mid, act)]
                if se:
                    sq = _divisible8(mid // 4)
                    rows += [(f"{name}.se.reduce", mid, sq, 1, 1, 1, "relu"),
                             (f"{name}.se.expand", sq, mid, 1, 1, 1, "hardsigmoid")]  # fmt: skip
                rows.append((f"{name}.project", mid, width, 1, 1, 1, None))
                ch = width
            index, i = index + 1, i + 1
    rows += [
        ("final_expand_layer", 160, 960, 1, 1, 1, "hardswish"),
        ("feature_mix_layer", 960, 1280, 1, 1, 1, "hardswish"),
    ]
    return rows


@pytest.mark.parametrize("seed", range(5))
def test_ofa_candidates_follow_the_ofa_source(seed):
    space = costmodel.search_space("ofa_mobilenet_v3")
    genes = space.sample(1, seed=seed)[0]
    values = space.decode(genes)
    depths = [values[f"stage{s}.depth"] for s in range(1, 6)]
    kernels = [values.get(f"blocks.{i}.kernel", 3) for i in range(1, 21)]
    expands = [values.get(f"blocks.{i}.expand", 3) for i in range(1, 21)]
    net = space.build(genes, 224)
    convs = [
        (n.name, n.layer.in_ch, n.layer.out_ch, n.layer.kernel, n.layer.stride, n.layer.groups, n.layer.activation)
        for n in net.leaves()
        if isinstance(n.layer, Conv2d)
    ]
    assert convs == ofa_leaves(depths, kernels, expands)
    # residual exactly where the stride is 1 and the channels stay (ResidualBlock with an IdentityLayer)
    residual = {n.name for n in net if isinstance(n.layer, Residual)}
    expected = {"blocks.0"} | {f"blocks.{1 + 4 * s + b}" for s in range(5) for b in range(1, depths[s])}
    assert residual == expected
    assert net["feature_mix_layer"].layer.batch_norm is False and net["classifier"].layer.bias is True
    assert net["blocks.0"].out_size == 112 and net["final_expand_layer"].out_size == 7


def test_sample_is_uniform_reproducible_and_in_range():
    space = costmodel.search_space("ofa_mobilenet_v3")
    a, b = space.sample(5000, seed=7), space.sample(5000, seed=7)
    assert np.array_equal(a, b) and a.shape == (5000, 45) and a.dtype.kind == "i"
    assert not np.array_equal(a, space.sample(5000, seed=8))
    for col, k in enumerate(space.gene_sizes):
        counts = np.bincount(a[:, col], minlength=k)
        assert len(counts) == k and counts.min() > 5000 / k * 0.85  # every value drawn, about equally
    assert space.sample(0).shape == (0, 45)


def test_mutate_and_crossover():
    space = costmodel.search_space("mobilenet_v1")
    g = space.sample(2000, seed=1)
    assert np.array_equal(space.mutate(g, rate=0.0), g)
    m = space.mutate(g, rate=0.3, seed=2)
    changed = (m != g).mean()
    assert 0.3 * 2 / 3 * 0.9 < changed < 0.3 * 2 / 3 * 1.1  # a redrawn gene keeps its value 1 time in 3
    space.check_genes(m)
    h = space.sample(2000, seed=5)
    child = space.crossover(g, h, seed=3)
    assert ((child == g) | (child == h)).all()
    assert 0.45 < ((child == g) & (child != h)).sum() / (g != h).sum() < 0.55


@pytest.mark.parametrize(
    "genes, message",
    [
        (np.zeros((2, 26), dtype=int), "shape"),
        (np.full((1, 27), 3), "gene 0 (conv1.width) of candidate 0 is 3"),
        (np.full((1, 27), -1), "is -1"),
        (np.zeros((1, 27)), "integers"),
    ],
)
def test_bad_genes_are_named(genes, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        costmodel.search_space("mobilenet_v1").build(genes)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: costmodel.search_space("nope"), "unknown search space 'nope'"),
        (lambda: costmodel.search_space("mobilenet_v1", widths=(0.5, -1)), "width multiplier .* got -1"),
        (lambda: costmodel.search_space("mobilenet_v1", kernels=(3, 4)), "kernel must be odd, got 4"),
        (lambda: costmodel.search_space("mobilenet_v1", kernels=(3, 3)), "distinct"),
        (lambda: costmodel.search_space("mobilenet_v1", colour="red"), "colour"),
        (lambda: costmodel.search_space("ofa_mobilenet_v3", depths=(2, 5)), "depths"),
        (lambda: costmodel.search_space("ofa_mobilenet_v3", width_mult=0), "width_mult .* got 0"),
        (lambda: costmodel.search_space("ofa_mobilenet_v3", width_mult="1.2"), "width_mult .* got '1.2'"),
        (lambda: costmodel.search_space("mobilenet_v1").build(np.zeros(27, int), resolution=0), "resolution"),
        (lambda: costmodel.search_space("mobilenet_v1").mutate(np.zeros(27, int), rate=2), "rate"),
        (lambda: Stage("s", [], depths=(1,)), "non-empty"),
        (lambda: Stage("s", [tiny_space().items[1].blocks[0]], depths=(1, 2)), "depths must be distinct integers"),
        (lambda: Block("b", lambda in_ch, k: (), {"k": ()}), "non-empty sequence"),
    ],
)
def test_bad_options_are_named(call, message):
    with pytest.raises(SpecError, match=message):
        call()


def test_choices_that_build_the_same_block_are_an_error():
    # int(8 * 0.5) == int(8 * 0.55): two width values, one network; size() would count it twice
    space = SearchSpace(
        "dup",
        [
            Block("stem", lambda in_ch, width: (Conv2d("stem", in_ch, int(8 * width), 3, 2),), {"width": (0.5, 0.55)}),
            Block("head", lambda in_ch: (GlobalAvgPool("pool"), Linear("fc", in_ch, 10))),
        ],
    )
    with pytest.raises(SpecError, match="block 'stem' builds the same layers for {'width': 0.5} and {'width': 0.55}"):
        space.size()


# --- seeds, memory, option counts, resolutions ----------------------------------------------------------------


def test_mutate_and_crossover_default_to_fresh_entropy_and_take_a_generator():
    """Without a seed, two calls draw different masks (an evolutionary loop must not repeat one mutation
    every generation); an integer seed repeats; a Generator is drawn from (and advanced)."""
    space = costmodel.search_space("mobilenet_v1")
    g, h = space.sample(500, seed=1), space.sample(500, seed=2)
    assert not np.array_equal(space.mutate(g, rate=0.5), space.mutate(g, rate=0.5))
    assert not np.array_equal(space.crossover(g, h), space.crossover(g, h))
    assert np.array_equal(space.mutate(g, 0.5, seed=7), space.mutate(g, 0.5, seed=7))
    gen_a, gen_b = np.random.default_rng(11), np.random.default_rng(11)
    first, second = space.mutate(g, 0.5, seed=gen_a), space.mutate(g, 0.5, seed=gen_a)
    assert not np.array_equal(first, second)  # the generator advanced
    assert np.array_equal(first, space.mutate(g, 0.5, seed=gen_b))  # and is reproducible from its own seed
    assert np.array_equal(space.crossover(g, h, seed=np.random.default_rng(4)), space.crossover(g, h, seed=4))


@pytest.mark.parametrize("seed", [-1, 1.5, "x", True, np.float64(2.0), [1, 2], object()])
def test_bad_seeds_are_named_everywhere(seed):
    from costmodel.errors import WeightsError
    from costmodel.reference import init_weights

    space = costmodel.search_space("mobilenet_v1")
    g = space.sample(2, seed=0)
    for call in (lambda: space.sample(2, seed=seed), lambda: space.mutate(g, seed=seed),
                 lambda: space.crossover(g, g, seed=seed)):  # fmt: skip
        with pytest.raises(SpecError, match="seed must be None, an integer >= 0 or a numpy.random.Generator"):
            call()
    with pytest.raises(WeightsError, match="seed must be None"):
        init_weights(costmodel.mobilenet_v1(0.25, 32), seed=seed)


def test_draws_that_would_not_fit_in_memory_are_refused_before_drawing(monkeypatch):
    from costmodel.errors import InputError

    space = costmodel.search_space("mobilenet_v1")
    with pytest.raises(InputError, match=r"sampling 2,147,483,647 candidates of 27 genes needs about 108\.0 GiB"):
        space.sample(2**31 - 1)
    monkeypatch.setenv("COSTMODEL_MEMORY_LIMIT", "1M")
    g = space.sample(10_000)  # 270 kB of genes: within 1 MB
    with pytest.raises(InputError, match="mutating 10,000 candidates"):
        space.mutate(g)
    with pytest.raises(InputError, match="crossing 10,000 pairs"):
        space.crossover(g, g)


def test_a_block_with_too_many_options_is_refused_before_anything_is_built():
    built = []

    def build(in_ch, **values):
        built.append(values)
        return (Conv2d("c", in_ch, 8, 1),)

    choices = {f"c{i}": tuple(range(10)) for i in range(10)}  # 10**10 options
    with pytest.raises(SpecError, match=r"block 'b': its choices give 10,000,000,000 options \(10 x 10 x"):
        Block("b", build, choices)
    assert built == []
    from costmodel.search.space import MAX_BLOCK_OPTIONS

    assert Block("ok", build, {"a": tuple(range(MAX_BLOCK_OPTIONS))}).num_options == MAX_BLOCK_OPTIONS


@pytest.mark.parametrize("name", ["mobilenet_v1", "ofa_mobilenet_v3"])
def test_resolutions_below_the_spaces_reach_or_given_as_floats_are_refused(name):
    """The built-in spaces, like mobilenet_v1(), take 32 to 1x1 with five stride-2 layers: below 32 a stride-2
    layer has nothing to reduce. Resolutions are integers everywhere (checks.positive_int): 224.0 is refused,
    a NumPy integer taken."""
    space = costmodel.search_space(name)
    g = space.sample(2, seed=0)
    with pytest.raises(SpecError, match=r"mobilenet_v1\(\)|resolution must be >= 32, got 8"):
        space.build(g[0], 8)
    with pytest.raises(SpecError, match="resolution must be >= 32, got 31"):
        costmodel.cost_population(space, g, resolution=[31, 224])
    assert space.build(g[0], 32).input_size == 32
    for bad in (np.float64(224.0), 224.0):
        with pytest.raises(SpecError, match="resolution must be a positive integer, got"):
            space.build(g[0], bad)
        with pytest.raises(SpecError, match="resolution must be a positive integer, got"):
            costmodel.cost_population(space, g, resolution=bad)
    net = space.build(g[0], np.int64(224))
    assert net.input_size == 224 and type(net.input_size) is int
    with pytest.raises(SpecError, match="resolution must be an integer, got"):
        costmodel.mobilenet_v1(resolution=np.float64(224.0))  # the same rule as the rest of the API


# --- a user space in a process pool (issue 21) -------------------------------------------------------------------


def test_a_user_space_is_costed_in_a_spawn_pool_as_serially():
    """The space of the module docstring's pattern (module-level builders, functools.partial) pickles, and two
    spawned workers cost a population to the same numbers as one process; a few rows are checked against each
    candidate built and counted on its own."""
    import multiprocessing
    import pickle

    from _user_space import cost_chunk, user_space

    space = user_space()
    genes = space.sample(300, seed=5)
    serial = costmodel.cost_population(space, genes, resolution=96)
    assert pickle.loads(pickle.dumps(space)).genes == space.genes  # compiled costs stay behind; genes survive
    chunks = [(space, part, 96) for part in np.array_split(genes, 2)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        parts = pool.map(cost_chunk, chunks)
    for name, values in serial.columns().items():
        assert sum((p[name] for p in parts), []) == values.tolist(), name
    for i in (0, 150, 299):
        net = space.build(genes[i], 96)
        assert (int(serial.mult_adds[i]), int(serial.params[i])) == (
            costmodel.count(net).mult_adds,
            costmodel.count(net).params,
        )


def test_a_space_with_a_lambda_says_why_it_cannot_be_pickled():
    import pickle

    space = SearchSpace("lam", [Block("stem", lambda in_ch: (Conv2d("stem", in_ch, 8, 3, 2),)), Block("h", _head)])
    with pytest.raises(SpecError, match="block 'stem': its builder .*lambda.* functools.partial"):
        pickle.dumps(space)


def _head(in_ch):
    return (GlobalAvgPool("pool"), Linear("fc", in_ch, 10))

"""cost_population against the oracle, per-candidate costing: build each candidate and run count, memory and
latency.predict on it. Equal on 10^4 random candidates of each space, at odd and even resolutions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import costmodel
from costmodel.counting.memory import memory
from costmodel.errors import SpecError
from costmodel.latency.model import predict
from costmodel.latency.profiles import DeviceProfile
from costmodel.search import population

# A profile with different efficiencies and overheads per kind, so that every kind's terms matter.
PROFILE = DeviceProfile(
    peak_flops_per_s=4.7e10,
    bandwidth_bytes_per_s=1.1e10,
    efficiency={"Conv 1x1": 0.61, "Conv DW 3x3": 0.13, "Conv 3x3": 0.4, "FC": 0.8, "Add": 0.33, "Mul": 0.21},
    default_efficiency=0.27,
    overhead_s=1.7e-5,
    overhead_by_kind_s={"Conv DW 7x7": 3e-6},
    name="test",
)
RESOLUTIONS = np.array([224, 193, 161, 128, 97, 33])
SPACES = ["mobilenet_v1", "ofa_mobilenet_v3"]


def one_by_one(space, genes, resolution, convention="paper", profile=PROFILE):
    """The oracle: each candidate built and costed on its own."""
    rows = []
    for g, r in zip(genes, resolution, strict=True):
        net = space.build(g, int(r))
        cost = costmodel.count(net, convention)
        mem = memory(net)
        seconds = predict(net, profile).seconds if profile is not None else math.nan
        rows.append((cost.mult_adds, cost.params, mem.bytes()["peak_live_bytes"], seconds))
    return [np.array(col) for col in zip(*rows, strict=True)]


@pytest.mark.parametrize("name", SPACES)
def test_equal_to_per_candidate_costing_on_ten_thousand_candidates(name):
    space = costmodel.search_space(name)
    genes = space.sample(10_000, seed=11)
    resolution = np.random.default_rng(12).choice(RESOLUTIONS, len(genes))
    pop = costmodel.cost_population(space, genes, resolution, profile=PROFILE)
    mult_adds, params, peak, seconds = one_by_one(space, genes, resolution)
    assert pop.mult_adds.dtype == np.int64
    np.testing.assert_array_equal(pop.mult_adds, mult_adds)
    np.testing.assert_array_equal(pop.params, params)
    np.testing.assert_array_equal(pop.peak_activation_bytes, peak)
    np.testing.assert_array_equal(pop.latency_s, seconds)  # floats, equal to the last bit
    np.testing.assert_array_equal(pop.resolution, resolution)


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("convention", ["torch", "fvcore", "thop", "paper+bias+bn-stats"])
def test_other_conventions(name, convention):
    space = costmodel.search_space(name)
    genes = space.sample(150, seed=5)
    resolution = np.random.default_rng(6).choice(RESOLUTIONS, len(genes))
    pop = costmodel.cost_population(space, genes, resolution, convention=convention, dtype="float16")
    assert pop.latency_s is None and pop.convention == costmodel.get_convention(convention).name
    mult_adds, params, _, _ = one_by_one(space, genes, resolution, convention, profile=None)
    np.testing.assert_array_equal(pop.mult_adds, mult_adds)
    np.testing.assert_array_equal(pop.params, params)
    peak = [
        memory(space.build(g, int(r))).bytes("float16")["peak_live_bytes"]
        for g, r in zip(genes, resolution, strict=True)
    ]
    np.testing.assert_array_equal(pop.peak_activation_bytes, peak)


def neumaier_sum(values):
    """CPython >= 3.12's float sum (Neumaier), written out: the oracle for the compensated path."""
    s = c = 0.0
    for x in values:
        t = s + x
        c += (s - t) + x if abs(s) >= abs(x) else (x - t) + s
        s = t
    return s + c if c and math.isfinite(c) else s


@pytest.mark.parametrize("name", SPACES)
def test_compensated_summation_path(name, monkeypatch):
    """Whichever interpreter runs the suite, both summation paths are checked against their own oracle."""
    space = costmodel.search_space(name)
    genes = space.sample(300, seed=8)
    resolution = np.random.default_rng(9).choice(RESOLUTIONS, len(genes))
    monkeypatch.setattr(population, "python_sum_is_compensated", lambda kind: True)
    pop = costmodel.cost_population(space, genes, resolution, profile=PROFILE)
    expected = [
        neumaier_sum([lat.seconds for lat in predict(space.build(g, int(r)), PROFILE).layers])
        for g, r in zip(genes, resolution, strict=True)
    ]
    np.testing.assert_array_equal(pop.latency_s, expected)


def test_a_declared_space_with_stages_and_residuals():
    from test_search_space import all_genes, tiny_space

    space = tiny_space()
    genes = all_genes(space)
    resolution = np.resize([33, 32, 65, 40], len(genes))
    pop = costmodel.cost_population(space, genes, resolution, profile=PROFILE)
    mult_adds, params, peak, seconds = one_by_one(space, genes, resolution)
    np.testing.assert_array_equal(pop.mult_adds, mult_adds)
    np.testing.assert_array_equal(pop.params, params)
    np.testing.assert_array_equal(pop.peak_activation_bytes, peak)
    np.testing.assert_array_equal(pop.latency_s, seconds)


def test_tables_are_kept_and_reused():
    space = costmodel.search_space("ofa_mobilenet_v3")
    genes = space.sample(50, seed=1)
    first = costmodel.cost_population(space, genes, profile=PROFILE)
    again = costmodel.cost_population(space, genes, profile=PROFILE)
    np.testing.assert_array_equal(first.latency_s, again.latency_s)
    other = DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10, default_efficiency=0.5, name="other")
    third = costmodel.cost_population(space, genes, profile=other)
    np.testing.assert_array_equal(third.latency_s, [predict(space.build(g), other).seconds for g in genes])


def test_columns_and_empty_population():
    space = costmodel.search_space("mobilenet_v1")
    pop = costmodel.cost_population(space, space.sample(4), 160)
    assert set(pop.columns()) == {"mult_adds", "params", "peak_activation_bytes", "resolution"}
    np.testing.assert_array_equal(pop.flops, 2 * pop.mult_adds)
    assert len(pop) == 4 and pop["params"] is pop.params
    empty = costmodel.cost_population(space, space.sample(0), profile=PROFILE)
    assert len(empty) == 0 and empty.latency_s.shape == (0,)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"resolution": [224, 160]}, "one per candidate"),
        ({"resolution": 160.5}, "integer, got 160.5"),
        ({"resolution": 0}, "positive integer, got 0"),
        ({"profile": {"peak_flops_per_s": 1}}, "DeviceProfile"),
        ({"convention": "nope"}, "nope"),
        ({"dtype": "float64"}, "float64"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    space = costmodel.search_space("mobilenet_v1")
    with pytest.raises(costmodel.CostModelError, match=message):
        costmodel.cost_population(space, space.sample(3), **kwargs)


def test_not_a_space():
    with pytest.raises(SpecError, match="SearchSpace"):
        costmodel.cost_population("mobilenet_v1", np.zeros((1, 27), int))


class _FakeLatency:
    """A latency model in which a layer's time depends on the layer before: each convolution runs on a kernel
    path ("wide" from 64 input channels, else "narrow") and pays 3 us when the path changes, as a runtime with
    several layouts does; plus a per-network term. Shaped like LatencyPrediction (layers, leaves, seconds)."""

    def __init__(self, network, profile):
        from types import SimpleNamespace

        previous, self.layers, self._leaves = "<input>", [], []
        for node in network.nodes:
            parts = []
            for leaf in node.leaves():
                path = ("wide" if leaf.in_ch >= 64 else "narrow") if isinstance(leaf.layer, costmodel.Conv2d) else ""
                seconds = 1e-9 * (leaf.in_ch * leaf.in_size**2 + 7 * leaf.out_ch * leaf.out_size**2)
                if path and path != previous:
                    seconds += 3e-6
                previous = path or previous
                parts.append(SimpleNamespace(node=leaf, seconds=seconds, path=path))
            self._leaves += parts
            row = parts[0] if not node.branches else SimpleNamespace(node=node, seconds=sum(p.seconds for p in parts))
            self.layers.append(row)
        self.network_overhead_s = 5e-6

    def leaves(self):
        return self._leaves

    @property
    def seconds(self):
        return sum(lat.seconds for lat in self.layers) + self.network_overhead_s


@pytest.mark.parametrize("name", SPACES)
def test_a_model_where_each_layer_depends_on_the_one_before(name, monkeypatch):
    import costmodel.latency.model

    monkeypatch.setattr(costmodel.latency.model, "predict", _FakeLatency)
    space = costmodel.search_space(name)
    genes = space.sample(400, seed=21)
    resolution = np.random.default_rng(22).choice(RESOLUTIONS, len(genes))
    profile = DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10, name="fake")
    pop = costmodel.cost_population(space, genes, resolution, profile=profile)
    expected = [_FakeLatency(space.build(g, int(r)), profile).seconds for g, r in zip(genes, resolution, strict=True)]
    np.testing.assert_array_equal(pop.latency_s, expected)
    # and the test can fail: blocks predicted alone, as if every block started on the first path, differ
    monkeypatch.setattr(population, "_exit_path", lambda pred, entry: population._START)
    alone = costmodel.cost_population(space, genes, resolution, profile=DeviceProfile(1e11, 1e10, name="again"))
    assert (alone.latency_s != np.array(expected)).mean() > 0.5


def _onnxruntime_profile():
    """A path-aware profile: fitted to ONNX Runtime's recorded per-node profile (tests/fixtures/ort_profile.json),
    where a layer runs on a blocked (NCHWc) or plain kernel path and a change of path costs a layout change."""
    import dataclasses
    import json
    from pathlib import Path

    from costmodel.latency.calibrate import fit_profile
    from costmodel.latency.runtimes import measurement_from_profile

    doc = json.loads((Path(__file__).parent / "fixtures" / "ort_profile.json").read_text())
    fit = [
        measurement_from_profile(
            costmodel.mobilenet_v1(rec["alpha"], rec["resolution"]), rec["events"], rec["forward_s"]
        )
        for rec in doc["networks"]
        if not rec["held_out"]
    ]
    profile = fit_profile(8.7e10, 4.0e10, fit, runtime="onnxruntime")
    assert profile.paths and profile.transitions  # the model under test depends on the layer before
    return dataclasses.replace(profile, default_efficiency=0.3)  # the kinds MobileNetV1 lacks, extrapolated


@pytest.mark.parametrize("name", SPACES)
def test_a_path_aware_runtime_profile(name):
    profile = _onnxruntime_profile()
    space = costmodel.search_space(name)
    genes = space.sample(500, seed=31)
    resolution = np.random.default_rng(32).choice(RESOLUTIONS, len(genes))
    pop = costmodel.cost_population(space, genes, resolution, profile=profile)
    expected = [predict(space.build(g, int(r)), profile).seconds for g, r in zip(genes, resolution, strict=True)]
    np.testing.assert_array_equal(pop.latency_s, expected)


def test_options_no_candidate_uses_may_fail_those_used_may_not():
    """The tables hold every option of every block; an option that cannot be built at a size (Keras pads a
    stride-2 depthwise layer by one row, then takes valid windows: a 7x7 kernel needs a 6x6 map) or predicted
    (a kind the profile does not cover) is an error only for a candidate that has it, named by its index."""
    space = costmodel.search_space("mobilenet_v1", flavour="keras")
    genes = space.sample(200, seed=41)
    genes[:, 1::2] = 0  # every depthwise kernel 3x3
    covered = DeviceProfile(
        peak_flops_per_s=1e11,
        bandwidth_bytes_per_s=1e10,
        efficiency={"Conv 3x3": 0.5, "Conv DW 3x3": 0.2, "Conv 1x1": 0.6, "Avg Pool": 0.5, "FC": 0.7, "Softmax": 0.5},
        name="3x3 only",
    )  # no default_efficiency: a 5x5 or 7x7 depthwise layer is a ProfileError
    pop = costmodel.cost_population(space, genes, 65, profile=covered)
    mult_adds, params, peak, seconds = one_by_one(space, genes, np.full(len(genes), 65), profile=covered)
    np.testing.assert_array_equal(pop.mult_adds, mult_adds)
    np.testing.assert_array_equal(pop.latency_s, seconds)
    sevens = genes.copy()
    sevens[13, 23] = 2  # block 12 at 7x7: stride 2 on a 4x4 map at 65, 5x5 once padded: nothing left
    with pytest.raises(SpecError, match="candidate 13 at resolution 65: conv_dw_12: .* shrinks to nothing"):
        costmodel.cost_population(space, sevens, 65)
    fives = genes.copy()
    fives[5, 3] = 1  # block 1 at 5x5: builds, but the profile has no efficiency for it
    with pytest.raises(costmodel.ProfileError, match="candidate 5 at resolution 65: .*'Conv DW 5x5( s2)?'"):
        costmodel.cost_population(space, fives, 65, profile=covered)


# --- exact arithmetic: int64 sums checked, latency as predict's rule --------------------------------------------

INT64_MAX = 2**63 - 1


def test_a_total_past_int64_is_an_error_with_the_exact_count_not_a_wrapped_number():
    """At 2**25 every block of the widest MobileNetV1 candidate fits in int64 but their sum does not: the
    population must say so (with count()'s exact Python integer), as sweep does, never return a negative."""
    space = costmodel.search_space("mobilenet_v1")
    widest = np.array([[2] + [2, 2] * 13], dtype=np.int8)  # width 1.0 and kernel 7 everywhere
    net = space.build(widest[0], 2**25)
    exact = costmodel.count(net)
    assert exact.mult_adds > INT64_MAX  # the engine's Python integers: the oracle
    assert max(layer.mult_adds for layer in exact.layers) < INT64_MAX  # each block fits: only the sum wraps
    with pytest.raises(SpecError, match=f"candidate 1 at resolution 33554432 costs {exact.mult_adds:,} Mult-Adds"):
        costmodel.cost_population(space, np.r_[space.sample(1, seed=0), widest], resolution=2**25)
    with pytest.raises(SpecError, match="too large for the population's int64 counts"):
        costmodel.cost_population(space, widest, resolution=2**31 - 1)  # a single block past int64
    narrow = np.zeros((1, 27), dtype=np.int8)  # width 0.5, kernel 3: within int64 at 2**25
    pop = costmodel.cost_population(space, narrow, resolution=2**25)
    assert int(pop.mult_adds[0]) == costmodel.count(space.build(narrow[0], 2**25)).mult_adds
    with pytest.raises(SpecError, match="FLOPs do not fit in int64"):
        _ = costmodel.cost_population(space, narrow, resolution=2**25 + 2**24).flops  # 2x does not fit


def test_a_latency_that_overflows_is_predicts_error_not_inf():
    """The population follows predict's rule: a total that is not finite is a ProfileError."""
    from costmodel.errors import ProfileError

    space = costmodel.search_space("mobilenet_v1")
    g = space.sample(3, seed=0)
    profile = DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10, default_efficiency=0.5)
    # past the profile's range checks (as a caller setting a frozen field might): every layer's seconds stay
    # finite (at most about 4e307), their sum does not
    object.__setattr__(profile, "peak_flops_per_s", 5e-300)
    with pytest.raises(ProfileError) as expected:
        predict(space.build(g[0], 224), profile)
    with pytest.raises(ProfileError, match="candidate 0 at resolution 224") as got:
        costmodel.cost_population(space, g, resolution=224, profile=profile)
    assert str(expected.value) in str(got.value)


@pytest.mark.parametrize("resolution", ["abc", None, 1 + 2j, [224, "a", 160], 2**70, -1, 0, True, [[224]], 224.0])
def test_bad_resolutions_are_named(resolution):
    space = costmodel.search_space("mobilenet_v1")
    with pytest.raises(SpecError, match="resolution"):
        costmodel.cost_population(space, space.sample(3, seed=0), resolution=resolution)


def test_a_population_too_large_for_memory_is_refused_first(monkeypatch):
    from costmodel.errors import InputError

    space = costmodel.search_space("mobilenet_v1")
    g = space.sample(50_000, seed=0)
    monkeypatch.setenv("COSTMODEL_MEMORY_LIMIT", "1M")
    with pytest.raises(InputError, match="costing 50,000 candidates needs about"):
        costmodel.cost_population(space, g)


# --- the population as an embedding takes it: plain values, JSON, a DataFrame (issue 21) -------------------------


def test_to_dict_to_json_and_table_hold_the_population():
    import json

    import pandas as pd

    space = costmodel.search_space("ofa_mobilenet_v3")
    genes = space.sample(50, seed=3)
    pop = costmodel.cost_population(space, genes, resolution=160, profile=PROFILE)
    mult_adds, params, peak, seconds = one_by_one(space, genes, [160] * len(genes))
    doc = json.loads(pop.to_json())
    assert doc == json.loads(json.dumps(pop.to_dict()))  # plain Python values all the way down
    assert (doc["candidates"], doc["convention"], doc["dtype"]) == (50, "paper", "float32")
    cols = doc["columns"]
    assert cols["mult_adds"] == mult_adds.tolist() and cols["params"] == params.tolist()
    assert cols["peak_activation_bytes"] == peak.tolist() and cols["latency_s"] == seconds.tolist()
    assert all(type(v) is int for v in cols["mult_adds"])  # exact integers, not floats
    df = pop.table(genes=genes, space=space)
    assert df["mult_adds"].tolist() == mult_adds.tolist() and df["candidate"].tolist() == list(range(50))
    for i in (0, 17, 49):  # the gene columns hold the values the active genes stand for
        decoded = space.decode(genes[i])
        row = df.iloc[i]
        assert {g.name: row[g.name] for g in space.genes if not pd.isna(row[g.name])} == decoded
    assert list(pop.table().columns) == ["candidate", *pop.columns()]

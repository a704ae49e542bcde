"""Calibrating and validating the latency model on a search space (costmodel.search.latency, the CLI's --space):
held-out candidates never overlap the fitting ones, kernel twins are what they claim to be, and the
calibrate -> validate path runs end to end on a synthetic device (no timing here)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _cli import fails as _fails

import costmodel
from costmodel.cli import main
from costmodel.errors import ProfileError, SpecError
from costmodel.latency.profiles import load_profile
from costmodel.search.latency import (
    calibrate_space,
    fit_keys,
    held_out_candidates,
    kernel_genes,
    kernel_twins,
    sample_distinct,
    validate_space,
)
from costmodel.spec.layers import Conv2d, Linear

SPACES = ("mobilenet_v1", "ofa_mobilenet_v3")
TINY = {"repeats": 1, "rounds": 1, "matmul_n": 64, "copy_bytes": 2**20, "min_seconds": 0.0}


def _leaf_seconds(node):
    """A synthetic device from shapes alone (not from costmodel.latency): convolutions cost per multiply-add,
    a kxk depthwise more per multiply-add as k grows, everything else per output element, plus a fixed cost."""
    layer = node.layer
    if isinstance(layer, Conv2d):
        mult_adds = layer.kernel**2 * (layer.in_ch // layer.groups) * layer.out_ch * node.out_size**2
        rate = 2e9 / layer.kernel if layer.groups > 1 else 2e10
        return mult_adds / rate + 4e-6
    if isinstance(layer, Linear):
        return layer.in_features * layer.out_features / 1e10 + 2e-6
    return node.out_ch * node.out_size**2 / 4e9 + 1e-6


def synthetic_time_layers(network, weights, images, repeats=5):
    return {leaf.name: _leaf_seconds(leaf) for leaf in network.leaves()}


def _device_seconds(network):
    return sum(_leaf_seconds(leaf) for leaf in network.leaves())


def _keys(space, genes):
    return {tuple(int(v) for v in row) for row in space.canonical(genes)}


@pytest.mark.parametrize("name", SPACES)
def test_kernel_twins_change_every_kernel_and_nothing_else(name):
    space = costmodel.search_space(name)
    genes = space.sample(20, seed=3)
    small, large = kernel_twins(space, genes)
    cols = kernel_genes(space)
    assert cols and all(space.genes[c].name.endswith(".kernel") for c in cols)
    others = [c for c in range(space.num_genes) if c not in cols]
    np.testing.assert_array_equal(small[:, others], genes[:, others])
    np.testing.assert_array_equal(large[:, others], genes[:, others])
    for i in range(len(genes)):
        a, b = space.build(small[i], 96), space.build(large[i], 96)
        # Read the built networks, not the genes: every searchable depthwise convolution (one per active kernel
        # gene) is 3x3 in one twin and 7x7 in the other; a fixed one (OFA's blocks.0) is the candidate's own.
        dw = [
            (x.layer, y.layer, z.layer)
            for x, y, z in zip(a.leaves(), b.leaves(), space.build(genes[i], 96).leaves(), strict=False)
            if isinstance(x.layer, Conv2d) and x.layer.groups > 1
        ]
        varying = [(x, y) for x, y, _ in dw if x != y]
        active_kernels = sum(key.endswith(".kernel") for key in space.decode(genes[i]))
        assert len(varying) == active_kernels > 0
        assert {x.kernel for x, _ in varying} == {3} and {y.kernel for _, y in varying} == {7}
        assert all(x == y == z for x, y, z in dw if x == y)
        assert [n.name for n in a.leaves()] == [n.name for n in b.leaves()]
        same = [(n.name, n.in_ch, n.out_ch, n.out_size) for n in a.leaves()]
        assert same == [(n.name, n.in_ch, n.out_ch, n.out_size) for n in b.leaves()]
        # ... and the original candidate's non-depthwise layers are those of its twins.
        original = space.build(genes[i], 96)
        plain = [n.layer for n in original.leaves() if not (isinstance(n.layer, Conv2d) and n.layer.groups > 1)]
        assert plain == [n.layer for n in a.leaves() if not (isinstance(n.layer, Conv2d) and n.layer.groups > 1)]


def test_twins_need_kernel_genes_and_kernels():
    with pytest.raises(SpecError, match="no kernel 7"):
        kernel_twins(costmodel.search_space("mobilenet_v1", kernels=(3, 5)), np.zeros(27, dtype=int))
    space = costmodel.search_space("mobilenet_v1")
    with pytest.raises(SpecError, match="no kernel genes"):
        from costmodel.search import Block, SearchSpace
        from costmodel.spec.layers import GlobalAvgPool

        bare = SearchSpace("bare", [Block("head", lambda in_ch, w: (GlobalAvgPool("pool"),), {"w": (1, 2)})])
        kernel_twins(bare, np.zeros(1, dtype=int))
    assert len(kernel_genes(space)) == 13


@pytest.mark.parametrize("name", SPACES)
def test_sample_distinct_has_distinct_canonical_keys_outside_the_excluded(name):
    space = costmodel.search_space(name)
    fit = sample_distinct(space, 16, seed=0)
    assert len(_keys(space, fit)) == 16
    # The same seed would draw the same candidates first: all of them must be skipped.
    held = sample_distinct(space, 30, seed=0, exclude=_keys(space, fit))
    assert len(_keys(space, held)) == 30 and not _keys(space, held) & _keys(space, fit)
    np.testing.assert_array_equal(held, space.canonical(held))


def test_sample_distinct_refuses_when_the_space_is_too_small():
    space = costmodel.search_space("mobilenet_v1", widths=(1.0,), kernels=(3,))  # one architecture
    assert len(sample_distinct(space, 1, seed=0)) == 1
    with pytest.raises(SpecError, match="cannot draw 2 distinct"):
        sample_distinct(space, 2, seed=0)


@pytest.fixture(scope="module")
def ofa_profile():
    space = costmodel.search_space("ofa_mobilenet_v3")
    profile = calibrate_space(
        space, candidates=4, resolution=64, configs=[(0.25, 65), (0.5, 81)], time_layers=synthetic_time_layers, **TINY
    )
    return space, profile


def test_calibrate_space_records_its_fitting_candidates(ofa_profile):
    space, profile = ofa_profile
    info = profile.meta["search_space"]
    assert info["name"] == "ofa_mobilenet_v3" and info["resolution"] == 64 and info["seed"] == 0
    assert len(info["fit_keys"]) == 4 == len(fit_keys(profile, space))
    assert profile.meta["fit_networks"] == [f"ofa_mobilenet_v3 fit {i}" for i in range(4)]
    # The fitting candidates are those sample_distinct draws, and the MobileNets are still fitted on.
    assert fit_keys(profile, space) == _keys(space, sample_distinct(space, 4, seed=0))
    assert profile.meta["fit_configs"] == [[0.25, 65], [0.5, 81]]
    # Every kind of the space got calibrated: the held-out candidates predict without extrapolating.
    for kind in ("Conv DW 3x3", "Conv DW 5x5", "Conv DW 7x7"):
        assert kind in profile.efficiency
    assert fit_keys(profile, costmodel.search_space("mobilenet_v1")) == set()  # another space: nothing fitted


def test_held_out_candidates_never_overlap_the_fit_set(ofa_profile):
    space, profile = ofa_profile
    fitted = fit_keys(profile, space)
    for seed in (0, 1, 7):  # seed 0 is the fitting seed: its first draws are the fitting candidates
        held = held_out_candidates(profile, space, 30, seed=seed)
        assert len(_keys(space, held)) == 30 and not _keys(space, held) & fitted


def test_validate_space_end_to_end_on_a_synthetic_device(ofa_profile):
    space, profile = ofa_profile
    checked = validate_space(profile, space, candidates=5, twins=3, time_layers=synthetic_time_layers, repeats=1)
    assert checked.seed == 1 and checked.resolution == 64 and checked.fit_candidates == 4
    assert len(checked.result.configs) == 5 and len(set(checked.keys)) == 5
    assert not set(checked.keys) & fit_keys(profile, space)
    held = held_out_candidates(profile, space, 5)
    for config, row in zip(checked.result.configs, held, strict=True):
        # The measured time is the synthetic device's, for the candidate the key names.
        assert config.measured_s == pytest.approx(_device_seconds(space.build(row, 64)), rel=1e-12)
    assert len(checked.twins) == 3
    small, large = kernel_twins(space, held)
    for i, twin in enumerate(checked.twins):
        assert twin.measured_small_s == pytest.approx(_device_seconds(space.build(small[i], 64)), rel=1e-12)
        assert twin.measured_large_s == pytest.approx(_device_seconds(space.build(large[i], 64)), rel=1e-12)
        assert twin.measured_slower  # on this device a 7x7 depthwise costs more than a 3x3 one
        assert twin.agrees == (twin.predicted_slower == twin.measured_slower)
    assert checked.twin_agreement == sum(t.agrees for t in checked.twins) / 3
    doc = checked.to_dict()
    assert doc["twin_pairs"] == 3 and len(doc["held_out_keys"]) == 5
    assert "Kernel twins" in checked.summary() and len(checked.twin_table()) == 3


def test_validate_space_without_twins(ofa_profile):
    space, profile = ofa_profile
    checked = validate_space(profile, space, candidates=3, twins=0, time_layers=synthetic_time_layers, repeats=1)
    assert checked.twins == () and checked.twin_agreement != checked.twin_agreement  # NaN
    with pytest.raises(ProfileError, match="twins"):
        validate_space(profile, space, candidates=3, twins=-1, time_layers=synthetic_time_layers)


def test_cli_refuses_combinations_that_make_no_sense(tmp_path, capsys):
    _fails(["validate-latency", "--space", "mobilenet_v1", "--network", "mobilenet_v2"], capsys, "--space")
    _fails(["validate-latency", "--space", "mobilenet_v1", "--spec", "x.json"], capsys, "--network/--spec")
    _fails(["validate-latency", "--candidates", "30"], capsys, "--candidates needs --space")
    _fails(["validate-latency", "--twins", "3"], capsys, "--twins needs --space")
    _fails(["validate-latency", "--seed", "3"], capsys, "--seed needs --space")
    _fails(["validate-latency", "--space", "nospace"], capsys, "nospace")
    _fails(["validate-latency", "--space", "mobilenet_v1", "--candidates", "0"], capsys, "--candidates")
    _fails(["calibrate", "--candidates", "4"], capsys, "--candidates needs --space")
    _fails(["calibrate", "--space", "mobilenet_v1", "--candidates", "-1"], capsys, "--candidates")
    _fails(["calibrate", "--space", "resnet"], capsys, "resnet")


def test_cli_calibrate_then_validate_a_space(tmp_path, capsys, monkeypatch):
    """The CLI path, with the synthetic device in place of the executor (both commands measure through
    costmodel.latency.calibrate.measure)."""
    import costmodel.latency.calibrate as cal

    real = cal.measure

    def synthetic_measure(runtime, networks, **kwargs):
        kwargs["time_layers"] = synthetic_time_layers
        return real(runtime, networks, **kwargs)

    monkeypatch.setattr(cal, "measure", synthetic_measure)
    out = tmp_path / "p.json"
    argv = ["calibrate", "--space", "mobilenet_v1", "--candidates", "3", "--quick", "--repeats", "1", "--rounds", "1"]
    assert main([*argv, "--seed", "5", "--out", str(out)]) == 0
    capsys.readouterr()
    profile = load_profile(out)
    assert profile.meta["search_space"]["seed"] == 5 and len(profile.meta["search_space"]["fit_keys"]) == 3
    argv = ["validate-latency", "--space", "mobilenet_v1", "--profile", str(out), "--candidates", "4", "--twins", "2"]
    assert main([*argv, "--repeats", "1", "--rounds", "1", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["networks"] == 4 and doc["search_space"]["seed"] == 6 and doc["search_space"]["twin_pairs"] == 2
    assert {tuple(k) for k in doc["search_space"]["held_out_keys"]}.isdisjoint(
        {tuple(k) for k in profile.meta["search_space"]["fit_keys"]}
    )
    assert main([*argv, "--repeats", "1", "--rounds", "1"]) == 0
    text = capsys.readouterr().out
    assert "Kernel twins: all-3x3 vs all-7x7" in text and "held-out candidates" in text


def test_numpy_runtime_times_a_residual_block_layer_by_layer():
    """The reference executor's measurement names every leaf (a residual's add apart from its body), so that
    each kind is fitted on its own time, not the add on the whole block's."""
    from costmodel.latency.calibrate import measure_networks

    space = costmodel.search_space("ofa_mobilenet_v3")
    net = space.build(space.sample(1, seed=0)[0], 32)
    (m,) = measure_networks([net], repeats=1, rounds=1)
    assert list(m.layer_s) == [leaf.name for leaf in net.leaves()]
    assert any(name.endswith(".add") for name in m.layer_s) and any(name.endswith(".mul") for name in m.layer_s)

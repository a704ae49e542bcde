"""Validation metrics (rank correlations by hand and by brute force), the comparison, reports and plots."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import mobilenet_v1
from costmodel.errors import ProfileError
from costmodel.latency.calibrate import Measurement
from costmodel.latency.model import predict
from costmodel.latency.profiles import DeviceProfile
from costmodel.latency.validate import (
    HELD_OUT,
    HELD_OUT_ALL,
    HELD_OUT_MIXED,
    compare,
    kendall_tau,
    pairwise_accuracy,
    rankdata,
    spearman,
    validate,
)

PROFILE = DeviceProfile(
    1e11,
    1e10,
    efficiency={"Conv 1x1": 0.5, "Conv DW 3x3": 0.1, "Conv 3x3": 1.0, "Avg Pool": 1.0, "FC": 1.0, "Softmax": 1.0},
    overhead_s=1e-5,
)


# --- rank correlations ----------------------------------------------------------------------------------


def test_rankdata_ties_by_hand():
    assert rankdata([3.0, 1.0, 4.0, 1.0, 5.0]).tolist() == [3.0, 1.5, 4.0, 1.5, 5.0]


def test_spearman_and_kendall_with_ties_by_hand():
    x, y = [1, 2, 2, 3], [1, 3, 2, 2]
    # Ranks x: 1, 2.5, 2.5, 4; y: 1, 4, 2.5, 2.5. Centred: (-1.5, 0, 0, 1.5) and (-1.5, 1.5, 0, 0):
    # covariance 2.25, variances 4.5 and 4.5 -> 0.5.
    assert spearman(x, y) == pytest.approx(0.5, abs=1e-15)
    # Pairs: 3 concordant, 1 discordant, 1 tied in x only, 1 tied in y only -> 2 / sqrt(5 * 5) = 0.4.
    assert kendall_tau(x, y) == pytest.approx(0.4, abs=1e-15)


def _kendall_brute(x, y):
    s = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        s += np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    return s / (len(x) * (len(x) - 1) / 2)  # tau-a: equals tau-b without ties


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(12))))
def test_rank_correlations_without_ties_match_textbook_formulas(perm):
    x = np.arange(12.0)
    y = np.asarray(perm, dtype=float) * 3.7 + 1.0  # a monotone transform does not change ranks
    d = np.arange(12) - np.asarray(perm)
    n = 12
    textbook = 1 - 6 * float(d @ d) / (n * (n * n - 1))  # Spearman without ties
    assert spearman(x, y) == pytest.approx(textbook, abs=1e-12)
    assert kendall_tau(x, y) == pytest.approx(_kendall_brute(x, y), abs=1e-12)


def test_perfect_and_reversed_orders():
    x = [1.0, 2.0, 5.0, 9.0]
    assert spearman(x, [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau(x, [40, 30, 20, 10]) == pytest.approx(-1.0)


@pytest.mark.parametrize("fn", [spearman, kendall_tau])
def test_rank_correlation_needs_two_equal_length_sequences(fn):
    with pytest.raises(ValueError):
        fn([1.0], [2.0])
    with pytest.raises(ValueError):
        fn([1.0, 2.0], [2.0, 3.0, 4.0])


# --- compare / validate ---------------------------------------------------------------------------------


def _scaled_measurement(net, factor):
    """A 'measurement' that is exactly ``factor`` times the prediction, layer by layer."""
    layers = predict(net, PROFILE).leaves()
    layer_s = {lat.name: factor * lat.seconds for lat in layers}
    return Measurement(net, layer_s, sum(layer_s.values()))


def test_compare_errors_are_exact_for_a_scaled_device():
    nets = [mobilenet_v1(a, r) for a, r in [(0.25, 64), (0.5, 96), (1.0, 128)]]
    result = compare(PROFILE, [_scaled_measurement(n, 1.25) for n in nets])
    # predicted = measured / 1.25 -> error = 100 (1/1.25 - 1) = -20 % for every config and every layer type
    for c in result.configs:
        assert c.error_pct == pytest.approx(-20.0, rel=1e-9)
    for measured, predicted, median_abs in result.kind_errors().values():
        assert predicted == pytest.approx(measured / 1.25, rel=1e-9)
        assert median_abs == pytest.approx(20.0, rel=1e-9)
    assert result.median_abs_error_pct == pytest.approx(20.0, rel=1e-9)
    assert result.spearman == pytest.approx(1.0) and result.kendall_tau == pytest.approx(1.0)
    assert result.fitted_on_held_out == ()


def test_compare_flags_configs_the_profile_was_fitted_on():
    profile = DeviceProfile(1e11, 1e10, default_efficiency=1.0, meta={"fit_configs": [[0.25, 64], [0.3, 117]]})
    nets = [mobilenet_v1(0.25, 64), mobilenet_v1(0.5, 64)]
    result = compare(profile, [_scaled_measurement(n, 1.0) for n in nets])
    assert result.fitted_on_held_out == ("0.25-64",)


def test_compare_needs_two_configs():
    with pytest.raises(ProfileError, match="at least 2"):
        compare(PROFILE, [_scaled_measurement(mobilenet_v1(0.25, 64), 1.0)])


def test_validate_with_a_synthetic_device_and_the_tables():
    def device(network, weights, images, repeats=5):  # 10 % slower than the profile on every layer
        return {lat.name: 1.1 * lat.seconds for lat in predict(network, PROFILE).layers}

    result = validate(PROFILE, [(0.25, 64), (0.5, 64), (0.25, 96)], repeats=1, rounds=1, time_layers=device)
    assert [c.label for c in result.configs] == ["0.25-64", "0.5-64", "0.25-96"]
    assert result.median_abs_error_pct == pytest.approx(100 * (1 - 1 / 1.1), rel=1e-9)
    configs, kinds = result.tables()
    assert list(configs["config"]) == ["0.25-64", "0.5-64", "0.25-96"]
    assert kinds["measured_time_pct"].sum() == pytest.approx(100.0, rel=1e-9)
    assert kinds["mult_adds_pct"].sum() == pytest.approx(100.0, rel=1e-9)


def test_held_out_set_is_the_papers_16():
    assert sorted(HELD_OUT) == sorted((a, r) for a in (0.25, 0.5, 0.75, 1.0) for r in (128, 160, 192, 224))


def test_held_out_set_has_channel_counts_off_the_blocked_path():
    """Some held-out networks have channel counts that are not multiples of 4 (ONNX Runtime's other path)."""
    off = [(a, r) for a, r in HELD_OUT_ALL if any(int(c * a) % 4 for c in (32, 64, 128, 256, 512, 1024))]
    assert set(off) == set(HELD_OUT_MIXED) and len(off) >= 4


def test_within_10_percent_and_the_baseline():
    nets = [mobilenet_v1(a, r) for a, r in [(0.25, 128), (0.5, 160), (1.0, 224), (0.75, 192)]]
    factors = [1.05, 0.85, 1.0, 1.2]  # measured = factor x predicted
    k = 1e-11
    profile = DeviceProfile(
        **{**PROFILE.to_dict(), "meta": {"mult_adds_baseline": {"seconds_per_mult_add": k, "constant_s": 0.0}}}
    )
    result = compare(profile, [_scaled_measurement(n, f) for n, f in zip(nets, factors, strict=True)])
    errors = sorted(abs(1 / f - 1) for f in factors)  # |predicted / measured - 1|
    assert result.within_10_percent == pytest.approx(sum(e <= 0.1 for e in errors) / 4)
    assert result.median_abs_error == pytest.approx((errors[1] + errors[2]) / 2, rel=1e-9)
    baseline = result.baseline()
    by_hand = sorted(abs(k * c.mult_adds / c.measured_s - 1) for c in result.configs)
    assert baseline["median_abs_error"] == pytest.approx((by_hand[1] + by_hand[2]) / 2, rel=1e-9)


@pytest.mark.parametrize(
    ("predicted", "measured", "mult_adds", "expected"),
    [
        ([1, 2, 3], [1, 2, 3], [100, 105, 110], (1.0, 3)),
        ([1, 2, 3], [3, 2, 1], [100, 105, 110], (0.0, 3)),
        ([1, 2, 3], [1, 3, 2], [100, 105, 300], (1.0, 1)),  # only the first pair is within 20 %
        ([1, 2], [2, 1], [100, 121], (float("nan"), 0)),  # 21 % apart: no close pair
    ],
)
def test_pairwise_accuracy_by_hand(predicted, measured, mult_adds, expected):
    accuracy, pairs = pairwise_accuracy(predicted, measured, mult_adds)
    assert pairs == expected[1]
    assert accuracy == pytest.approx(expected[0], nan_ok=True)


# --- report and plots -----------------------------------------------------------------------------------


def _result():
    nets = [mobilenet_v1(a, r) for a, r in [(0.25, 128), (0.5, 160), (1.0, 224), (0.75, 192)]]
    return compare(PROFILE, [_scaled_measurement(n, f) for n, f in zip(nets, [1.1, 0.9, 1.05, 1.0], strict=True)])


def test_validation_summary_states_the_numbers():
    from costmodel.latency.report import validation_summary

    text = validation_summary(_result())
    assert "Median absolute error" in text and "Spearman" in text and "Kendall" in text
    assert "Within +-10 %: 75 % of networks" in text  # |errors| 9.1, 11.1, 4.8 and 0 %


def test_plots_are_written(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from costmodel.latency.plots import plot_latency_vs_mult_adds, plot_time_share, save_latency_plots

    result = _result()
    fig = plot_latency_vs_mult_adds(result)
    assert len(fig.axes[0].texts) == 4  # one label per configuration
    fig = plot_time_share(result)
    assert len(fig.axes[0].get_legend().get_texts()) == len(result.kinds()) + 1
    paths = save_latency_plots(result, tmp_path)
    assert [p.name for p in paths] == ["latency_vs_mult_adds.png", "time_share.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["latency_vs_mult_adds.png", "time_share.png"]


def test_other_networks_are_labelled_by_name():
    from costmodel import network

    nets = [network("mobilenet_v2", resolution=96), mobilenet_v1(0.25, 64)]
    profile = DeviceProfile(1e11, 1e10, default_efficiency=1.0)
    measured = [Measurement(n, {}, predict(n, profile).seconds) for n in nets]
    assert [c.label for c in compare(profile, measured).configs] == ["MobileNetV2 1.0-96", "0.25-64"]

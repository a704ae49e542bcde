"""Device profiles: round trips through JSON and TOML, and clear errors for every kind of bad file."""

from __future__ import annotations

import json
import os
import sys

import pytest

from costmodel.errors import ProfileError
from costmodel.latency.profiles import DeviceProfile, load_profile, profile_from_dict, save_profile

GOOD = {
    "name": "laptop",
    "peak_flops_per_s": 1.5e11,
    "bandwidth_bytes_per_s": 1.2e10,
    "efficiency": {"Conv 1x1": 0.6, "Conv DW 3x3": 0.15},
    "overhead_s": 2e-5,
    "overhead_by_kind_s": {"Conv 1x1": 3e-6},
}

TOML = """
name = "laptop"
peak_flops_per_s = 1.5e11
bandwidth_bytes_per_s = 1.2e10
overhead_s = 2e-5

[efficiency]
"Conv 1x1" = 0.6
"Conv DW 3x3" = 0.15

[overhead_by_kind_s]
"Conv 1x1" = 3e-6
"""


def test_json_round_trip(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(GOOD))
    p = load_profile(path)
    assert (p.name, p.peak_flops_per_s, p.bandwidth_bytes_per_s, p.overhead_s) == (
        "laptop",
        1.5e11,
        1.2e10,
        2e-5,
    )
    assert p.efficiency_of("Conv 1x1") == 0.6
    with pytest.raises(ProfileError, match="no efficiency for layer kind 'FC'.*calibrate"):
        p.efficiency_of("FC")  # not listed, and no fallback declared
    assert (p.overhead_of("Conv 1x1"), p.overhead_of("Conv DW 3x3")) == (2e-5 + 3e-6, 2e-5)
    fallback = profile_from_dict({**GOOD, "default_efficiency": 0.5})
    terms = fallback.terms("FC")
    assert (terms.efficiency, terms.overhead_s, terms.extrapolated) == (0.5, 2e-5, True)
    assert fallback.terms("Conv 1x1").extrapolated is False
    again = tmp_path / "again.json"
    save_profile(p, again)
    assert load_profile(again) == p
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []  # no temporary file left


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python >= 3.11")
def test_toml_reads_like_json(tmp_path):
    toml, js = tmp_path / "p.toml", tmp_path / "p.json"
    toml.write_text(TOML)
    js.write_text(json.dumps(GOOD))
    assert load_profile(toml) == load_profile(js)


def _bad(**changes):
    data = dict(GOOD)
    for key, value in changes.items():
        if value is _DROP:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data)


_DROP = object()

# (file text, pieces the message must contain)
BAD_JSON = [
    pytest.param("{not json", ["not a valid JSON file"], id="syntax"),
    pytest.param("[1, 2]", ["JSON object", "list"], id="not-an-object"),
    pytest.param(_bad(peak_flops_per_s=_DROP), ["missing required field", "'peak_flops_per_s'"], id="missing"),
    pytest.param(_bad(overhead=1e-5), ["unknown field", "'overhead'"], id="typo"),
    pytest.param(_bad(peak_flops_per_s=-1), ["'peak_flops_per_s'", "> 0", "-1"], id="negative-peak"),
    pytest.param(_bad(bandwidth_bytes_per_s=0), ["'bandwidth_bytes_per_s'", "got 0"], id="zero-bandwidth"),
    pytest.param(_bad(bandwidth_bytes_per_s="fast"), ["'bandwidth_bytes_per_s'", "'fast'"], id="string"),
    pytest.param(_bad(peak_flops_per_s=True), ["'peak_flops_per_s'", "True"], id="bool"),
    pytest.param(_bad(overhead_s=-1e-6), ["'overhead_s'", ">= 0", "-1e-06"], id="negative-overhead"),
    pytest.param(_bad(efficiency=[0.5]), ["'efficiency'", "[0.5]"], id="efficiency-list"),
    pytest.param(_bad(efficiency={"Conv 1x1": 0}), ["'efficiency.Conv 1x1'", "got 0"], id="efficiency-zero"),
    pytest.param(_bad(efficiency={"FC": None}), ["'efficiency.FC'", "None"], id="efficiency-null"),
    pytest.param(
        _bad(overhead_by_kind_s={"FC": -1e-6}),
        ["'overhead_by_kind_s.FC'", ">= 0", "-1e-06"],
        id="kind-overhead",
    ),
    pytest.param(_bad(overhead_by_kind_s=2e-6), ["'overhead_by_kind_s'", "table"], id="kind-overhead-scalar"),
    pytest.param(_bad(dtype="float64"), ["'dtype'", "'float64'"], id="dtype"),
    pytest.param(_bad(name=3), ["'name'", "3"], id="name"),
    pytest.param(_bad(meta=[1]), ["'meta'"], id="meta"),
    pytest.param(_bad().replace("2e-05", "NaN"), ["NaN"], id="nan"),
    # strict JSON: a key given twice (the last one silently won) is refused, naming the key (issue 17)
    pytest.param(
        _bad()[:-1] + ', "peak_flops_per_s": 1e9}',
        ["the profile has the key 'peak_flops_per_s' twice in one object"],
        id="duplicate-key",
    ),
    pytest.param(
        '{"peak_flops_per_s": 5e10, "bandwidth_bytes_per_s": 1e10, "efficiency": {"FC": 0.5, "FC": 0.9}}',
        ["has the key 'FC' twice"],
        id="duplicate-nested-key",
    ),
    # issue 10: a kind that does not exist is an error listing the valid ones
    pytest.param(
        _bad(efficiency={"Conv1x1": 0.6}), ["'efficiency'", "'Conv1x1'", "valid kinds", "Conv <k>x<k>"], id="kind-typo"
    ),
    pytest.param(_bad(overhead_by_kind_s={"Conv 3x5": 1e-6}), ["'Conv 3x5'", "valid kinds"], id="kind-bad-kernel"),
    pytest.param(_bad(efficiency={"Conv 1x1 @nchwc": 1.0}), ["'nchwc'", "paths"], id="undeclared-path"),
    # wrong JSON types anywhere: one-line errors naming the field
    pytest.param(_bad(name=["a"]), ["'name'", "string"], id="name-list"),
    pytest.param(_bad(runtime={"a": 1}), ["'runtime'", "string"], id="runtime-table"),
    pytest.param(_bad(paths=[1]), ["'paths'", "table"], id="paths-list"),
    pytest.param(_bad(paths={"Conv 1x1": "nchwc"}), ["'paths.Conv 1x1'", "table"], id="path-rule-string"),
    pytest.param(
        _bad(paths={"Conv 1x1": {"path": "a", "channels_multiple_of": "4", "otherwise": "b"}}),
        ["channels_multiple_of", "'4'"],
        id="path-rule-type",
    ),
    pytest.param(_bad(channel_block={"x": 16}), ["'channel_block'", "'x'"], id="block-unknown-path"),
    pytest.param(_bad(transitions={"a-b": {"efficiency": 1}}), ["'transitions'", "'a-b'"], id="transition-key"),
    pytest.param(_bad(default_efficiency="1"), ["'default_efficiency'", "'1'"], id="fallback-string"),
    pytest.param(_bad(overhead_network_s=-1), ["'overhead_network_s'", ">= 0"], id="network-overhead"),
    pytest.param(_bad(activations={"swish": {"efficiency": 1}}), ["'activations'", "'swish'", "silu"], id="act-name"),
    pytest.param(_bad(activations={"silu": 0.5}), ["'activations.silu'", "efficiency"], id="act-type"),
    pytest.param(_bad(cache_bytes=-1), ["'cache_bytes'", "-1"], id="cache-negative"),
    pytest.param(_bad(peak_flops_per_s=10**400), ["'peak_flops_per_s'", "finite"], id="huge-integer"),
    pytest.param(_bad().replace("2e-05", "Infinity"), ["Infinity"], id="infinity"),
]


@pytest.mark.parametrize(("text", "pieces"), BAD_JSON)
def test_bad_json_profiles(tmp_path, text, pieces):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message  # the file is named
    for piece in pieces:
        assert piece in message


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python >= 3.11")
@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("peak_flops_per_s = [", ["not a valid TOML file"]),
        (TOML.replace("0.6", "-0.6"), ["'efficiency.Conv 1x1'", "-0.6"]),
        (TOML.replace("overhead_s", "overhead_us"), ["unknown field", "'overhead_us'"]),
        ("overhead_s = 1e-6\n" + TOML, ["not a valid TOML file", "Cannot overwrite a value"]),  # a key twice
    ],
)
def test_bad_toml_profiles(tmp_path, text, pieces):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    for piece in [str(path), *pieces]:
        assert piece in str(info.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ProfileError, match="nowhere.json' does not exist"):
        load_profile(tmp_path / "nowhere.json")
    for bad, what in ((None, "must be a string or path"), (tmp_path, "is a folder")):
        with pytest.raises(ProfileError, match=what):
            load_profile(bad)
    os.mkfifo(tmp_path / "fifo.json")  # reading it would block: refused before opening
    with pytest.raises(ProfileError, match="is a FIFO"):
        load_profile(tmp_path / "fifo.json")
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ProfileError, match="not a valid JSON"):
        load_profile(binary)


def test_save_refuses_toml_and_missing_folder(tmp_path):
    p = profile_from_dict(GOOD)
    with pytest.raises(ProfileError, match="JSON"):
        save_profile(p, tmp_path / "p.toml")
    with pytest.raises(ProfileError, match="does not exist"):
        save_profile(p, tmp_path / "no" / "p.json")
    with pytest.raises(ProfileError, match="names a folder, not a file"):  # never a file called 'newdir'
        save_profile(p, f"{tmp_path}/newdir/")
    with pytest.raises(ProfileError, match="File name too long"):
        save_profile(p, tmp_path / ("x" * 300) / "p.json")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_constructor_validates_too():
    with pytest.raises(ProfileError, match="peak_flops_per_s"):
        DeviceProfile(float("nan"), 1e10)
    with pytest.raises(ProfileError, match="efficiency.FC"):
        DeviceProfile(1e11, 1e10, efficiency={"FC": -2})


def test_ridge_point():
    assert DeviceProfile(2e11, 1e10).ridge_flops_per_byte == 20.0


def test_deep_nesting_is_a_profile_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"meta": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ProfileError, match="deep|not a valid"):
        load_profile(path)


def test_path_rules_and_padding():
    """The path rule as ORT behaves (issue 12's probe: 1x1 convs on NCHWc when C_in < 16 or C_in % 4 == 0)."""
    p = DeviceProfile(
        1e11,
        1e10,
        efficiency={"Conv 1x1 @nchwc": 1.0, "Conv 1x1 @Conv": 1.0},
        paths={
            "Conv 1x1": {"path": "nchwc", "channels_multiple_of": 4, "channels_below": 16, "otherwise": "Conv"},
            "Conv 3x3": {
                "path": "nchwc",
                "channels_multiple_of": 4,
                "channels_below": 16,
                "below": "slow",
                "otherwise": "plain",
            },
            "Avg Pool": {"same_as_input": True},
        },
        channel_block={"nchwc": 16},
    )
    assert [p.path_of("Conv 1x1", c, "x") for c in (9, 14, 16, 19, 38, 76, 153)] == [
        "nchwc", "nchwc", "nchwc", "Conv", "Conv", "nchwc", "Conv"
    ]  # fmt: skip
    assert p.path_of("Avg Pool", 19, "Conv") == "Conv"
    assert [p.path_of("Conv 3x3", c, "x") for c in (3, 15, 16, 18, 20)] == ["slow", "slow", "nchwc", "plain", "nchwc"]
    assert p.path_of("FC", 10, "nchwc") == ""  # no rule: one path
    # Output channels pad to whole blocks; input channels only from one block up (the RGB input stays 3).
    assert [p.padded(c, "nchwc") for c in (9, 16, 19, 153)] == [16, 16, 32, 160]
    assert [p.padded(c, "nchwc", "input") for c in (3, 11, 19)] == [3, 11, 32]
    assert p.padded(19, "Conv") == 19


# --- physically meaningful ranges, JSON-only metadata, deep TOML ------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"default_efficiency": 1e-300}, "'default_efficiency' = 1e-300"),
        ({"peak_flops_per_s": 1e-300}, "'peak_flops_per_s' = 1e-300"),
        ({"peak_flops_per_s": 1e30}, "'peak_flops_per_s' = 1e+30"),
        ({"bandwidth_bytes_per_s": 0.5}, "'bandwidth_bytes_per_s' = 0.5"),
        ({"overhead_s": 3600.0}, "'overhead_s' = 3600.0"),
        ({"overhead_network_s": 1e9}, "'overhead_network_s' = 1000000000.0"),
        ({"efficiency": {"Conv 1x1": 1e-9}}, "'efficiency.Conv 1x1' = 1e-09"),
        ({"efficiency": {"Conv 1x1": 1e5}}, "'efficiency.Conv 1x1' = 100000.0"),
        ({"overhead_by_kind_s": {"FC": 100.0}}, "'overhead_by_kind_s.FC' = 100.0"),
        ({"spill": {"FC": 1e12}}, "'spill.FC' = 1000000000000.0"),
        ({"activations": {"relu": {"efficiency": 1e-12}}}, "'efficiency' = 1e-12"),
    ],
)
def test_values_outside_a_physical_range_are_refused(tmp_path, changes, field):
    """A value far outside what any device does is a typo or a unit error: refused on load and in the
    constructor, naming the field and the range, instead of printing a time of 300 digits."""
    from costmodel.latency.profiles import RANGES

    data = {**GOOD, **changes}
    with pytest.raises(ProfileError, match="too extreme: it must lie in") as info:
        profile_from_dict(data)
    assert field in str(info.value)
    with pytest.raises(ProfileError, match="too extreme"):
        DeviceProfile(**data)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match="too extreme"):
        load_profile(path)
    lo, hi = RANGES["efficiency"]  # the ends of each range are accepted
    assert (
        DeviceProfile(peak_flops_per_s=1e18, bandwidth_bytes_per_s=1e3, default_efficiency=lo).default_efficiency == lo
    )
    assert DeviceProfile(peak_flops_per_s=1e3, bandwidth_bytes_per_s=1e16, default_efficiency=hi, overhead_s=10.0)


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"when": __import__("datetime").date(2024, 1, 2)}, "field 'meta.when' must be JSON data"),
        ({"x": {1, 2}}, "field 'meta.x' must be JSON data"),
        ({"x": [1, object()]}, r"field 'meta.x\[1\]' must be JSON data"),
        ({3: "a"}, "has a key that is not text: 3"),
        ({"x": float("nan")}, "must be finite"),
        ({"x": 2**200}, "integer of 201 bits"),
    ],
)
def test_metadata_must_be_json_data(tmp_path, meta, message):
    """meta is written back as JSON: anything JSON cannot hold is named when the profile is made, not when
    save_profile is halfway through writing it."""
    with pytest.raises(ProfileError, match=message):
        DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10, meta=meta)
    assert not list(tmp_path.iterdir())


def test_metadata_that_contains_itself_is_refused():
    meta: dict = {"a": []}
    meta["a"].append(meta)
    with pytest.raises(ProfileError, match="nested more than 64 levels deep"):
        DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10, meta=meta)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python >= 3.11")
def test_toml_dates_and_deep_toml_are_profile_errors(tmp_path, capsys):
    from _cli import fails

    dated = tmp_path / "dated.toml"
    dated.write_text(TOML.replace('name = "laptop"', 'name = "laptop"\nmeta = {calibrated = 2024-01-02T03:04:05Z}'))
    with pytest.raises(ProfileError, match="field 'meta.calibrated' must be JSON data .*quote a TOML date"):
        load_profile(dated)
    fails(["latency", "--profile", str(dated), "--format", "json"], capsys, "meta.calibrated")
    quoted = tmp_path / "quoted.toml"
    quoted.write_text(TOML.replace('name = "laptop"', 'name = "laptop"\nmeta = {calibrated = "2024-01-02"}'))
    assert load_profile(quoted).meta == {"calibrated": "2024-01-02"}
    for text in ("meta = " + "[" * 5000 + "]" * 5000, "meta." + ".".join(["a"] * 200) + " = 1"):
        deep = tmp_path / "deep.toml"
        deep.write_text(TOML + "\n" + text + "\n" if text.startswith("meta.") else text + "\n" + TOML)
        with pytest.raises(ProfileError, match="nested"):
            load_profile(deep)
        fails(["latency", "--profile", str(deep)], capsys, "nested")

"""Device profiles: round trips through JSON and TOML, and clear errors for every kind of bad file."""

from __future__ import annotations

import json
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
    assert p.efficiency_of("FC") == 1.0  # not listed: the default
    assert (p.overhead_of("Conv 1x1"), p.overhead_of("FC")) == (2e-5 + 3e-6, 2e-5)
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
    pytest.param("{not json", ["is not valid JSON"], id="syntax"),
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
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ProfileError, match="is not UTF-8 text"):
        load_profile(binary)


def test_save_refuses_toml_and_missing_folder(tmp_path):
    p = profile_from_dict(GOOD)
    with pytest.raises(ProfileError, match="JSON"):
        save_profile(p, tmp_path / "p.toml")
    with pytest.raises(ProfileError, match="does not exist"):
        save_profile(p, tmp_path / "no" / "p.json")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_constructor_validates_too():
    with pytest.raises(ProfileError, match="peak_flops_per_s"):
        DeviceProfile(float("nan"), 1e10)
    with pytest.raises(ProfileError, match="efficiency.FC"):
        DeviceProfile(1e11, 1e10, efficiency={"FC": -2})


def test_ridge_point():
    assert DeviceProfile(2e11, 1e10).ridge_flops_per_byte == 20.0

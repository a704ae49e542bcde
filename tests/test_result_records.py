"""to_dict / to_json of Cost, NetworkMemory and LatencyPrediction: small JSON records, values equal to the
results' own attributes and rows that add up to the totals; never the whole network."""

from __future__ import annotations

import json

import pytest

import costmodel
from costmodel.counting.memory import memory
from costmodel.latency.model import predict
from costmodel.latency.profiles import DeviceProfile

PROFILE = DeviceProfile(
    peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10, overhead_s=1e-5, default_efficiency=1.0, name="p"
)  # the fallback: every kind predicted (marked extrapolated), as the records must show
NETWORKS = [
    lambda: costmodel.mobilenet_v1(0.5, 161),
    lambda: costmodel.network("googlenet"),
    lambda: costmodel.network("mobilenet_v2"),
]


@pytest.mark.parametrize("build", NETWORKS)
@pytest.mark.parametrize("convention", ["paper", "torch", "thop"])
def test_cost_record(build, convention):
    net = build()
    cost = costmodel.count(net, convention)
    record = json.loads(cost.to_json())
    assert record == cost.to_dict()
    assert record["mult_adds"] == cost.mult_adds and record["params"] == cost.params
    assert record["flops"] == 2 * cost.mult_adds and record["convention"] == cost.convention.name
    assert record["network"] == net.name and record["input_size"] == net.input_size
    assert len(cost.to_json()) < 400  # the record, not the network (dataclasses.asdict gave 54 kB)
    rows = json.loads(cost.to_json(layers=True))["layers"]
    assert sum(r["mult_adds"] for r in rows) == cost.mult_adds and sum(r["params"] for r in rows) == cost.params
    assert [r["name"] for r in rows] == [lc.name for lc in cost.leaves()]


@pytest.mark.parametrize("build", NETWORKS)
@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_memory_record(build, dtype):
    mem = memory(build())
    record = json.loads(mem.to_json(dtype))
    assert record["peak_live_elements"] == mem.peak_live_elements and record["peak_layer"] == mem.peak_layer
    assert record["peak_live_bytes"] == mem.peak_live_elements * {"float32": 4, "int8": 1}[dtype]
    assert record["weight_bytes"] == mem.bytes(dtype)["weight_bytes"]
    rows = mem.to_dict(dtype, layers=True)["layers"]
    assert max(r["live_elements"] for r in rows) == mem.peak_live_elements
    assert sum(r["traffic_elements"] for r in rows) == mem.traffic_elements
    assert len(mem.to_json()) < 400


@pytest.mark.parametrize("build", NETWORKS[:1])
def test_latency_record(build):
    pred = predict(build(), PROFILE)
    record = json.loads(pred.to_json())
    assert record["seconds"] == pred.seconds and record["profile"] == "p" and record["batch"] == 1
    assert record["mult_adds"] == pred.mult_adds and record["by_kind_s"] == pred.by_kind()
    rows = json.loads(pred.to_json(layers=True))["layers"]
    assert [r["seconds"] for r in rows] == [lat.seconds for lat in pred.layers]
    assert sum(r["seconds"] for r in rows) == pred.seconds
    assert len(pred.to_json()) < 600

"""torchvision's documented parameters and GFLOPS against the spec: every published number matches when rounded
as torchvision rounds it, and the GFLOPS column is Mult-Adds, not FLOPs."""

from __future__ import annotations

import json

import pytest

import costmodel
from costmodel.cli import main
from costmodel.paper.published import read_csv
from costmodel.paper.torchvision import compare_torchvision

NEW = ("mobilenet_v3_large", "mobilenet_v3_small", "mnasnet1_0", "efficientnet_b0")


def _rows():
    return {(c.network, c.quantity): c for c in compare_torchvision()}


def test_every_published_number_matches():
    rows = compare_torchvision()
    assert len(rows) == len(read_csv("torchvision_params.csv")) + 2 * len(read_csv("torchvision_ops.csv"))
    assert {c.status for c in rows} == {"match"}, [c for c in rows if c.status != "match"]


@pytest.mark.parametrize("name", [r["network"] for r in read_csv("torchvision_ops.csv")])
def test_docs_column_is_the_meta_value_to_two_decimals(name):
    """docs/source/conf.py prints f"{_ops:.2f}": the CSV's two columns must agree with that, as data."""
    row = {r["network"]: r for r in read_csv("torchvision_ops.csv")}[name]
    assert f"{float(row['ops']):.2f}" == row["gflops_column"]


@pytest.mark.parametrize("name", [r["network"] for r in read_csv("torchvision_ops.csv")])
def test_ops_are_mult_adds_not_flops(name):
    """The exact Mult-Adds round to the published _ops; FLOPs (2x) would not."""
    c = _rows()[name, "ops"]
    mult_adds = costmodel.count(costmodel.network(name), "torch").mult_adds
    assert c.count == mult_adds
    assert round(mult_adds / 1e9, 3) == float(c.published)
    assert round(2 * mult_adds / 1e9, 3) != float(c.published)


@pytest.mark.parametrize("name", NEW)
def test_params_are_torchvisions(name):
    c = _rows()[name, "params"]
    assert c.count == costmodel.count(costmodel.network(name), "torch").params == int(c.published)


def test_cli_prints_the_comparison(capsys):
    assert main(["tables", "--torchvision"]) == 0
    out = capsys.readouterr().out
    rows = len(read_csv("torchvision_params.csv")) + 2 * len(read_csv("torchvision_ops.csv"))  # 30 before the graphs
    assert "efficientnet_b0" in out and "0.386" in out and f"{rows} match" in out
    assert main(["tables", "--torchvision", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in rows} == {"match"}

"""The command line: output formats, totals, and bad input as one line on stderr with exit status 2."""

import csv
import io
import json
import subprocess
import sys

import pytest

from costmodel.cli import main


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_tables_prints_all_seven_with_flags(capsys):
    code, out, err = run(["tables"], capsys)
    assert code == 0 and err == ""
    for n in range(1, 8):
        assert f"Table {n}." in out
    assert out.count("[!]") == 12  # 4 in Tables 1-7, 8 in Tables 8-9
    assert "12 flagged as discrepancies (12 explained)" in out
    assert "8.56x" in out  # the whole-network separable saving, from the engine


@pytest.mark.parametrize("fmt", ["csv", "json", "markdown", "table"])
def test_tables_formats(capsys, fmt):
    code, out, _ = run(["tables", "--table", "2", "--table", "7", "--format", fmt], capsys)
    assert code == 0
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert {r["table"] for r in rows} == {"2", "7"}
    elif fmt == "json":
        rows = json.loads(out)
        assert {r["table"] for r in rows} == {2, 7}
        assert any(r["status"] == "discrepancy" for r in rows)
    elif fmt == "markdown":
        assert "| row | quantity |" in out and "---:" in out and "**Table 7." in out
    else:
        assert "Table 2." in out and "Table 7." in out and "Table 1." not in out


def test_count_json_totals(capsys):
    code, out, _ = run(["count", "--alpha", "0.75", "--resolution", "128", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0
    assert data["mult_adds"] == 106_002_432 + 768 * 1000 and data["params"] == 1_800_144 + 768 * 1000
    assert data["flops"] == 2 * data["mult_adds"]
    assert sum(layer["mult_adds"] for layer in data["layers"]) == data["mult_adds"]


def test_count_variants_and_table(capsys):
    code, out, _ = run(["count", "--full-conv", "--formula"], capsys)
    assert code == 0 and "conv_full_13" in out and "4,867,293,184 Mult-Adds" in out
    code, out, _ = run(["count", "--shallow", "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sum(int(r["mult_adds"]) for r in rows) == 307_323_392


def test_count_out_file(tmp_path, capsys):
    target = tmp_path / "net.md"
    code, out, _ = run(["count", "--format", "markdown", "--out", str(target)], capsys)
    assert code == 0 and out == "" and target.read_text().startswith("**MobileNetV1 1.0-224")
    assert not list(tmp_path.glob(".*tmp"))


BAD_ARGS = [
    (["count", "--alpha", "-0.5"], "alpha must be a finite number > 0, got -0.5"),
    (["count", "--alpha", "nan"], "got nan"),
    (["count", "--alpha", "inf"], "got inf"),
    (["count", "--alpha", "wide"], "invalid float value: 'wide'"),
    (["count", "--resolution", "31"], "resolution must be >= 32, got 31"),
    (["count", "--resolution", "-5"], "got -5"),
    (["count", "--resolution", "224.5"], "invalid int value: '224.5'"),
    (["count", "--rho", "1.5"], "rho must be in (0, 1], got 1.5"),
    (["count", "--rho", "0"], "rho must be in (0, 1], got 0.0"),
    (["count", "--convention", "thopp"], "unknown convention 'thopp'"),
    (["count", "--format", "xml"], "invalid choice: 'xml'"),
    (["count", "--bogus"], "unrecognized arguments: --bogus"),
    (["tables", "--table", "10"], "no table 10"),
    (["tables", "--table", "two"], "invalid int value: 'two'"),
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["count", "--out", "/nonexistent-dir/x.txt"], "does not exist"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGS)
def test_bad_input_one_line_exit_2(argv, message, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert message in err and "Traceback" not in err


def test_python_dash_m_is_the_same_command():
    proc = subprocess.run(
        [sys.executable, "-m", "costmodel", "count", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["params"] == 4_209_088
    bad = subprocess.run(
        [sys.executable, "-m", "costmodel", "count", "--alpha", "-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr

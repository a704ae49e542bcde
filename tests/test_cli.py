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


# --- issue 10: option forms, combinations, outputs ----------------------------------------------------------------


def _published_numbers(out: str) -> int:
    return int(out.rsplit("\n\n", 1)[-1].split(" published numbers compared")[0])


def test_tables_both_forms_and_each_table_once(capsys):
    _, once, _ = run(["tables", "--table", "2"], capsys)
    _, twice, _ = run(["tables", "--table", "2", "--table", "2"], capsys)
    assert twice == once and _published_numbers(once) == 8  # Table 2: 4 rows x 2 shares
    _, spaced, _ = run(["tables", "--table", "2", "3", "--format", "csv"], capsys)
    _, repeated, _ = run(["tables", "--table", "2", "--table", "3", "--format", "csv"], capsys)
    assert spaced == repeated
    assert {row["table"] for row in csv.DictReader(io.StringIO(spaced))} == {"2", "3"}


def test_sweep_and_budget_lists_take_both_forms(capsys):
    _, a, _ = run(["sweep", "--alpha", "0.5", "0.25", "--resolution", "128", "--format", "csv"], capsys)
    _, b, _ = run(["sweep", "--alpha", "0.5", "--alpha", "0.25", "--resolution", "128", "--format", "csv"], capsys)
    assert a == b and len(list(csv.DictReader(io.StringIO(a)))) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["budget", "--frontier", "mult_adds", "--mult-adds", "3e8"], "--frontier cannot be combined with --mult-adds"),
        (["budget", "--frontier", "params", "--resolution", "224"], "--frontier cannot be combined with --resolution"),
        (["budget", "--mult-adds", "1e30"], "the budget of 1e+30 Mult-Adds is too large"),
        (["count", "--memory", "--convention", "keras"], "--memory cannot be combined with --convention"),
        (["count", "--memory", "--formula"], "--memory cannot be combined with --formula"),
        (["count", "--rho", "0.1"], "rho=0.1 is too small: resolution round(0.1 * 224) = 22 is below 32"),
        (["sweep", "--rho", "0.1"], "rho=0.1 is too small"),
        (["count", "--alpha", "1e300"], "alpha=1e+300 is too large"),
        (["count", "--resolution", "100000000000"], "resolution must be at most 2,147,483,647"),
        (["latency", "--alpha", "1e30"], "alpha=1e+30 is too large"),
        (["sweep", "--resolution", "92233720368547758070"], "resolution 92233720368547758070 is out of range"),
        (["run", "--seed", "-1"], "expected an integer >= 0, got -1"),
        (["count", "--out", "/dev/null"], "'/dev/null': it is a character device, not a regular file"),
        (["plot", "--out", "/dev/null"], "cannot write into '/dev/null': it is a character device, not a folder"),
    ],
)
def test_messages_name_the_actual_problem(argv, message, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert "alpha" not in err or "alpha" in " ".join(argv) or "budget" in argv  # no blame on an α not given


def test_budget_message_does_not_blame_an_alpha_never_given(capsys):
    code, _, err = run(["budget", "--params", "1e300"], capsys)
    assert code == 2 and "alpha=" not in err and "budget of 1e+300 params is too large" in err


def test_plot_given_a_file_where_a_folder_goes(tmp_path, capsys):
    target = tmp_path / "figs"
    target.write_text("keep me")
    code, _, err = run(["plot", "--out", str(target)], capsys)
    assert code == 2 and "it is a file, not a folder" in err
    assert target.read_text() == "keep me"


def test_out_through_a_symlink_and_onto_a_private_file(tmp_path, capsys):
    real = tmp_path / "real.csv"
    real.write_text("old")
    real.chmod(0o600)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert run(["count", "--format", "csv", "--out", str(link)], capsys)[0] == 0
    assert link.is_symlink() and real.read_text().startswith("name,")
    assert real.stat().st_mode & 0o777 == 0o600


def test_calibrate_checks_its_out_before_measuring(tmp_path, capsys, monkeypatch):
    import costmodel.latency.calibrate as cal

    def never(*a, **k):
        raise AssertionError("measured before checking --out")

    monkeypatch.setattr(cal, "calibrate", never)
    for bad in (tmp_path / "no" / "p.json", "/dev/null", "/proc/p.json", tmp_path):
        code, _, err = run(["calibrate", "--quick", "--out", str(bad)], capsys)
        assert code == 2 and err.count("\n") == 1 and "cannot write" in err, err


def test_validate_latency_plots_folder_is_created_and_checked(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    code, _, err = run(["validate-latency", "--plots", str(tmp_path / "a-file" / "out")], capsys)
    assert code == 2 and "is a file, not a folder" in err


def test_threads_default_is_one_everywhere():
    from costmodel.cli import build_parser
    from costmodel.cli._common import DEFAULT_THREADS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    defaults = {
        name: action.default
        for name, p in sub.choices.items()
        for action in p._actions
        if "--threads" in action.option_strings
    }
    assert len(defaults) >= 6 and set(defaults.values()) == {DEFAULT_THREADS} == {1}, defaults


def test_control_characters_in_names_never_reach_the_terminal():
    """The JSON schema refuses such names; a network built in Python may still have one: tables escape it."""
    import costmodel
    from costmodel.report.tables import render

    net = costmodel.Network(
        [costmodel.Conv2d("conv\n\x1b[31m", 3, 8, 3), costmodel.GlobalAvgPool("pool")], 32, name="net\x07α"
    )
    df = costmodel.count(net).table()[["name", "mult_adds"]]
    for fmt in ("table", "markdown"):
        text = render(df, fmt, title=net.name)
        assert "\x1b" not in text and "\x07" not in text and "\\x1b[31m" in text and "α" in text
        assert len(text.splitlines()) == (5 if fmt == "table" else 6)  # title, header, rule, 2 rows (+ blank)


# --- issue 21: one command line -----------------------------------------------------------------------------------


@pytest.mark.parametrize("network", ["googlenet", "squeezenet1_0", "mobilenet_v2", "efficientnet_b0"])
def test_count_nested_view_subtotals_add_up(network, capsys):
    """Each block's row carries its subtotal, equal to the sum of the rows one level below it; the top-level rows
    add up to the totals; the flat JSON rows (the engine's leaves and joins) are unchanged."""
    code, out, _ = run(["count", "--network", network, "--convention", "thop", "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    tree = doc["tree"]
    assert sum(r["params"] for r in doc["layers"]) == doc["params"]  # the flat view, as before
    for key in ("params", "mult_adds"):
        assert sum(r[key] for r in tree if r["depth"] == 1) == doc[key]
        for i, row in enumerate(tree):
            children = []
            for below in tree[i + 1 :]:
                if below["depth"] <= row["depth"]:
                    break
                if below["depth"] == row["depth"] + 1:
                    children.append(below[key])
            if children:
                assert row[key] == sum(children) and row[key] > 0, (row["name"], key)


def test_count_depth_folds_blocks_into_one_row(capsys):
    code, out, _ = run(["count", "--network", "googlenet", "--depth", "1", "--format", "csv"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    from costmodel import count, network

    cost = count(network("googlenet"))
    assert [r["name"] for r in rows] == [lc.name for lc in cost.layers]  # one row per top-level layer or block
    assert {r["name"]: int(r["params"]) for r in rows}["inception4e"] == cost.layers[
        [lc.name for lc in cost.layers].index("inception4e")
    ].params
    code, text, _ = run(["count", "--network", "googlenet"], capsys)
    assert "\n  inception3a.branch1 " in text  # the table form indents a block's layers


def test_results_go_to_out_in_every_format(tmp_path, capsys):
    for argv in (
        ["formula"],
        ["budget", "--mult-adds", "300M"],
        ["card"],
        ["run", "--alpha", "0.25", "--resolution", "32"],
    ):
        for fmt in ("json", "csv", "markdown", "table"):
            target = tmp_path / f"{argv[0]}.{fmt}"
            code, out, _ = run([*argv, "--format", fmt, "--out", str(target)], capsys)
            assert code == 0 and out == "", (argv, fmt)
            text = target.read_text()
            if fmt == "json":
                json.loads(text)
                assert text.startswith(("{\n  ", "[\n  ")), argv  # indented like every other command
            elif fmt == "csv":
                assert len(list(csv.reader(io.StringIO(text)))) > 1


def test_run_json_matches_the_table(capsys):
    argv = ["run", "--alpha", "0.25", "--resolution", "32", "--repeats", "1", "--top", "3"]
    code, table, _ = run(argv, capsys)
    code2, out, _ = run([*argv, "--format", "json"], capsys)
    assert code == code2 == 0
    doc = json.loads(out)
    lines = table.splitlines()
    assert [int(line.split()[1]) for line in lines[2:5]] == [r["class"] for r in doc["top"]]
    assert [r["rank"] for r in doc["top"]] == [1, 2, 3] and doc["network"] == "MobileNetV1 0.25-32"


def test_wide_tables_are_narrow_by_default(capsys):
    for argv in (["conventions"], ["card"], ["count", "--memory"]):
        _, narrow, _ = run(argv, capsys)
        _, wide, _ = run([*argv, "--wide"], capsys)
        _, every, _ = run([*argv, "--columns", "all"], capsys)
        width = max(map(len, narrow.splitlines()[:4]))
        assert width < 200 < max(map(len, wide.splitlines())), argv
        assert wide == every


def test_columns_names_the_choices(capsys):
    code, _, err = run(["conventions", "--columns", "convention,nope"], capsys)
    assert code == 2 and "no column nope" in err and "differs_by" in err


def test_validate_latency_fails_before_measuring_a_kind_the_profile_lacks(tmp_path, capsys, monkeypatch):
    import costmodel.latency.calibrate as calibrate_module
    import costmodel.latency.validate as validate_module

    def never(*args, **kwargs):
        raise AssertionError("measured")

    monkeypatch.setattr(calibrate_module, "measure", never)
    monkeypatch.setattr(validate_module, "measure", never)
    profile = tmp_path / "p.json"
    efficiency = {"Conv 1x1": 0.5, "Conv DW 3x3": 0.1, "Conv 3x3": 0.3, "Avg Pool": 1.0, "FC": 1.0, "Softmax": 1.0}
    profile.write_text(json.dumps({"peak_flops_per_s": 1e11, "bandwidth_bytes_per_s": 1e10, "efficiency": efficiency}))
    code, _, err = run(["validate-latency", "--profile", str(profile), "--network", "mobilenet_v2@96"], capsys)
    assert code == 2 and err.count("\n") == 1 and "'Add'" in err


def test_calibrate_onnxruntime_missing_says_what_to_install_first(capsys, monkeypatch):
    import importlib.util

    import costmodel.latency.calibrate as calibrate_module

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))

    def never(*args, **kwargs):
        raise AssertionError("measured")

    for name in ("calibrate", "measure_peak_flops", "measure_bandwidth"):
        monkeypatch.setattr(calibrate_module, name, never)
    code, _, err = run(["calibrate", "--runtime", "onnxruntime", "--quick"], capsys)
    assert code == 2 and "needs onnxruntime" in err and "pip install 'costmodel[onnx]'" in err


def test_quiet_leaves_standard_error_empty(tmp_path, capsys, monkeypatch):
    import costmodel.latency.calibrate as calibrate_module
    from costmodel.latency.profiles import DeviceProfile

    def fake(**kwargs):
        kwargs["progress"]("a progress line")
        return DeviceProfile(1e11, 1e10, name="fake")

    monkeypatch.setattr(calibrate_module, "calibrate", fake)
    _, _, err = run(["calibrate", "--out", str(tmp_path / "p.json")], capsys)
    assert "a progress line" in err
    _, _, err = run(["calibrate", "--quiet", "--out", str(tmp_path / "q.json")], capsys)
    assert err == ""


def test_population_rows_are_the_candidates_costed_one_by_one(tmp_path, capsys):
    import numpy as np

    import costmodel

    target = tmp_path / "pop.csv"
    argv = ["population", "--space", "mobilenet_v1", "--n", "40", "--seed", "3", "--resolution", "160"]
    code, out, _ = run([*argv, "--out", str(target)], capsys)
    assert code == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    space = costmodel.search_space("mobilenet_v1")
    genes = space.sample(40, seed=3)
    assert len(rows) == 40
    for i in (0, 13, 39):
        cost = costmodel.count(space.build(genes[i], 160))
        assert (int(rows[i]["mult_adds"]), int(rows[i]["params"])) == (cost.mult_adds, cost.params)
        assert {k: rows[i][k] for k in space.decode(genes[i])} == {k: str(v) for k, v in space.decode(genes[i]).items()}
    code, out, _ = run([*argv, "--front", "mult_adds,params", "--format", "json"], capsys)
    front = json.loads(out)
    points = np.array([[int(r["mult_adds"]), int(r["params"])] for r in rows])
    dominated = [
        i for i, p in enumerate(points) if any((q <= p).all() and (q < p).any() for q in points)
    ]  # brute force: O(n^2)
    assert sorted(r["candidate"] for r in front) == sorted(set(range(40)) - set(dominated))


def test_population_parquet_needs_pyarrow(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    target = tmp_path / "pop.parquet"
    code, _, err = run(["population", "--space", "mobilenet_v1", "--n", "5", "--out", str(target)], capsys)
    assert code == 2 and "pyarrow" in err and "pip install" in err and not target.exists()


def test_population_parquet_holds_the_csv_rows(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    argv = ["population", "--space", "ofa_mobilenet_v3", "--n", "30", "--seed", "1", "--resolution", "192"]
    assert run([*argv, "--out", str(tmp_path / "p.parquet")], capsys)[0] == 0
    assert run([*argv, "--out", str(tmp_path / "p.csv")], capsys)[0] == 0
    parquet = pd.read_parquet(tmp_path / "p.parquet")
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(parquet.columns) == list(table.columns)
    for col in ("candidate", "mult_adds", "params", "peak_activation_bytes", "resolution"):
        assert parquet[col].tolist() == table[col].tolist(), col


def test_population_table_over_the_memory_limit_is_refused_before_costing(capsys, monkeypatch):
    import costmodel.search.population as population_module

    def never(*args, **kwargs):
        raise AssertionError("costed")

    monkeypatch.setattr(population_module, "cost_population", never)
    monkeypatch.setenv("COSTMODEL_MEMORY_LIMIT", "1M")
    code, _, err = run(["population", "--space", "mobilenet_v1", "--n", "1M"], capsys)
    assert code == 2 and err.count("\n") == 1 and "memory limit" in err and "--front" in err

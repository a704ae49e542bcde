"""A standing fuzz harness for the command line: every command x every option x a table of bad-value classes.

Each case runs ``costmodel.cli.main`` in-process with stdout and stderr captured, inside a scratch folder,
and asserts what issue 10 asks of every bad input: exit status 2, exactly one line on stderr, no traceback,
and no file created or changed. Commands and options are read from the parser itself, so a new command or
option is fuzzed as soon as it exists. A few cases that need a real process (a full or closed standard output,
a reader that goes away, SIGTERM) run as subprocesses at the end.

Separately, every command run on good input with ``--format json`` must print only finite, non-negative counts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _tmpfs import small_tmpfs
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.cli import build_parser, main

# --- what the parser offers --------------------------------------------------------------------------------


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.nargs != 0 and a.dest != "help"]


COMMANDS = _commands()

#: Options naming a file the command reads, a file it writes, or a folder it writes into.
READS = {"--spec", "--weights", "--image", "--profile"}
WRITES = {"--out"}
FOLDERS = {"--plots"}
FOLDER_OUT = {"plot"}  # commands whose --out is a folder

#: Arguments a command needs to run at all (or to run quickly: no calibration, no long measurement), used
#: whenever the option under test is not one of them. "{tmp}" is the scratch folder.
BASE_ARGS: dict[str, list[str]] = {
    "plot": ["--out", "{tmp}/figs"],
    "export-onnx": ["--out", "{tmp}/m.onnx", "--alpha", "0.25", "--resolution", "32"],
    "run": ["--alpha", "0.25", "--resolution", "32", "--repeats", "1"],
    "profile": ["--alpha", "0.25", "--resolution", "32", "--repeats", "1"],
    "budget": ["--mult-adds", "3e8"],
    "latency": ["--profile", "{tmp}/good-profile.json"],
    "validate-latency": ["--profile", "{tmp}/good-profile.json", "--repeats", "1", "--rounds", "1"],
    "calibrate": ["--quick", "--repeats", "1", "--rounds", "1"],
    "convert-weights": ["--to", "npz"],
    "population": ["--space", "mobilenet_v1", "--n", "10", "--resolution", "32"],
    "export-tflite": ["--out", "{tmp}/m.tflite", "--alpha", "0.25", "--resolution", "32"],
}

#: Positional arguments: a good value for each (in order), and what kind of path each is, by metavar.
POSITIONALS: dict[str, list[str]] = {"convert-weights": ["{tmp}/good-weights.npz", "{tmp}/converted.npz"]}
POSITIONAL_KINDS = {"IN": "read", "OUT": "write"}

#: Options tested without the command's base arguments: with ``--mult-adds 3e8`` given, a huge ``--params``
#: budget is a correct, satisfiable request, not an error.
SOLO = {("budget", "--params"), ("budget", "--frontier")}

#: Numeric options for which 0 is a meaningful value (0 threads keeps the environment's; seed 0).
ZERO_OK = {"--threads", "--seed"}

NUMBERS = {
    "nan": "nan",
    "inf": "inf",
    "-inf": "-inf",
    "negative": "-1",
    "zero": "0",
    "huge-int": "1" + "0" * 30,
    "huge-float": "1e400",
    "401-digits": "9" * 401,
    "string": "abc",
    "empty": "",
}
WORDS = {"empty": "", "control": "paper\nrow", "unknown": "no-such-thing", "nul": "a\x00b"}


def _make_inputs(tmp: Path) -> dict[str, str]:
    """Bad files to read: each class of broken input, made fresh in the scratch folder."""
    (tmp / "empty.json").write_bytes(b"")
    (tmp / "truncated.json").write_text('{"name": "x", "layers": [')
    (tmp / "corrupt.bin").write_bytes(bytes(range(256)) * 4)
    (tmp / "folder").mkdir()
    (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp / "big-int.json").write_text('{"a": ' + "9" * 401 + "}")
    (tmp / "nan.json").write_text('{"a": NaN}')
    (tmp / "list.json").write_text("[1, 2, 3]")
    (tmp / "duplicate-keys.json").write_text('{"name": "x", "input_size": 32, "name": "y", "layers": []}')
    (tmp / "escape-run.json").write_text('{"name": "' + '\\"' * 450_000)  # 900 kB: hours for a quadratic check
    (tmp / "npz-truncated.npz").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    (tmp / "h5-truncated.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 40)
    (tmp / "png-truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (tmp / "dangling").symlink_to(tmp / "nowhere")
    (tmp / "link-to-folder").symlink_to(tmp / "folder")
    os.mkfifo(tmp / "fifo")  # reading it would block: loaders must refuse it before opening
    paths = {
        "missing": tmp / "missing.json",
        "empty": tmp / "empty.json",
        "truncated": tmp / "truncated.json",
        "corrupt": tmp / "corrupt.bin",
        "folder": tmp / "folder",
        "deep": tmp / "deep.json",
        "big-int": tmp / "big-int.json",
        "nan": tmp / "nan.json",
        "list": tmp / "list.json",
        "duplicate-keys": tmp / "duplicate-keys.json",
        "escape-run": tmp / "escape-run.json",
        "npz-truncated": tmp / "npz-truncated.npz",
        "h5-truncated": tmp / "h5-truncated.h5",
        "png-truncated": tmp / "png-truncated.png",
        "dangling": tmp / "dangling",
        "link-to-folder": tmp / "link-to-folder",
        "fifo": tmp / "fifo",
        "device": "/dev/null",
        "empty-name": "",
    }
    return {k: str(v) for k, v in paths.items()}


def _make_outputs(tmp: Path) -> dict[str, str]:
    """Places a file cannot be written to (folders, devices, FIFOs, unwritable folders)."""
    paths = {
        "folder": tmp / "folder",
        "device": "/dev/null",
        "fifo": tmp / "fifo",
        "link-to-fifo": tmp / "link-to-fifo",
        "missing-folder": tmp / "no" / "such" / "out.txt",
        "under-a-file": tmp / "empty.json" / "out.txt",
        "unwritable": "/proc/costmodel-out.txt",  # /proc takes no new file, even from root
        "empty-name": "",
        "trailing-slash": f"{tmp}/newdir/",  # no such folder: never a file called newdir
        "too-long-name": tmp / ("x" * 300),
        "too-long-folder": tmp / ("x" * 300) / "out.txt",
    }
    (tmp / "link-to-fifo").symlink_to(tmp / "fifo")
    return {k: str(v) for k, v in paths.items()}


def _folder_outputs(tmp: Path) -> dict[str, str]:
    return {
        "a-file": str(tmp / "empty.json"),
        "device": "/dev/null",
        "fifo": str(tmp / "fifo"),
        "under-a-file": str(tmp / "empty.json" / "figs"),
        "unwritable": "/proc/costmodel-figs",
        "empty-name": "",
        "too-long-name": str(tmp / ("x" * 300)),
        "too-long-parent": str(tmp / ("x" * 300) / "figs"),
    }


def _positionals(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not a.option_strings and a.dest != "help"]


def _cases() -> list[tuple[str, str, str]]:
    """(command, option or positional metavar, value class) for every argument of every command."""
    cases = []
    for command, parser in COMMANDS.items():
        for action in _positionals(parser):
            kind = POSITIONAL_KINDS[action.metavar]  # a new positional needs its kind here
            classes = INPUT_CLASSES if kind == "read" else OUTPUT_CLASSES
            cases += [(command, action.metavar, c) for c in classes]
        for action in _options(parser):
            option = action.option_strings[-1]
            if action.choices is not None:
                classes = ["unknown", "empty"]
            elif option in READS:
                classes = list(INPUT_CLASSES)
            elif option in WRITES and command in FOLDER_OUT or option in FOLDERS:
                classes = list(FOLDER_CLASSES)
            elif option in WRITES:
                classes = list(OUTPUT_CLASSES)
            elif action.type is None:
                classes = list(WORDS)
            else:  # a number
                classes = [c for c in NUMBERS if not (c == "zero" and option in ZERO_OK)]
            cases += [(command, option, c) for c in classes]
    return cases


INPUT_CLASSES = (
    "missing",
    "empty",
    "truncated",
    "corrupt",
    "folder",
    "deep",
    "big-int",
    "nan",
    "list",
    "duplicate-keys",
    "escape-run",
    "npz-truncated",
    "h5-truncated",
    "png-truncated",
    "dangling",
    "link-to-folder",
    "fifo",
    "device",
    "empty-name",
)
OUTPUT_CLASSES = (
    "folder",
    "device",
    "fifo",
    "link-to-fifo",
    "missing-folder",
    "under-a-file",
    "unwritable",
    "empty-name",
    "trailing-slash",
    "too-long-name",
    "too-long-folder",
)
FOLDER_CLASSES = (
    "a-file",
    "device",
    "fifo",
    "under-a-file",
    "unwritable",
    "empty-name",
    "too-long-name",
    "too-long-parent",
)

#: Word options whose bad values are checked elsewhere or are not errors: --network and --convention values
#: go through their own lookups (named in the error), which these classes exercise; nothing is exempt today.
EXEMPT: set[tuple[str, str, str]] = set()


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def _good_profile(tmp: Path) -> None:
    (tmp / "good-profile.json").write_text(
        json.dumps({"peak_flops_per_s": 5e10, "bandwidth_bytes_per_s": 1e10, "default_efficiency": 0.5, "name": "fuzz"})
    )


class _TookTooLong(BaseException):
    pass


def _alarm(signum, frame):
    raise _TookTooLong


#: A bad value must be refused before any long computation; a case still running after this is a failure
#: (it also keeps a blocking read, e.g. of a FIFO, from hanging the suite).
CASE_SECONDS = 20


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    except _TookTooLong:
        pytest.fail(f"still running after {CASE_SECONDS} s: {argv}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


_PATHS: dict[str, dict[str, str]] = {}


def _value(command: str, option: str, klass: str) -> str:
    if option in POSITIONAL_KINDS:
        return _PATHS["in" if POSITIONAL_KINDS[option] == "read" else "out"][klass]
    if option in READS:
        return _PATHS["in"][klass]
    if (option in WRITES and command in FOLDER_OUT) or option in FOLDERS:
        return _PATHS["folder"][klass]
    if option in WRITES:
        return _PATHS["out"][klass]
    return NUMBERS[klass] if klass in NUMBERS else WORDS[klass]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    _PATHS["in"] = _make_inputs(tmp)
    _PATHS["out"] = _make_outputs(tmp)
    _PATHS["folder"] = _folder_outputs(tmp)
    _good_profile(tmp)
    from costmodel import mobilenet_v1
    from costmodel.reference import init_weights, save_weights

    net = mobilenet_v1(0.25, 32)
    save_weights(net, init_weights(net), tmp / "good-weights.npz")
    return tmp


@pytest.mark.parametrize(("command", "option", "klass"), _cases())
def test_bad_value_is_one_line_and_exit_2(scratch, command, option, klass, monkeypatch):
    if (command, option, klass) in EXEMPT:
        pytest.skip("exempt")
    monkeypatch.chdir(scratch)
    value = _value(command, option, klass)
    base = [] if (command, option) in SOLO else [a.replace("{tmp}", str(scratch)) for a in BASE_ARGS.get(command, [])]
    if option in base:  # the option under test replaces the base argument of the same name
        i = base.index(option)
        del base[i : i + 2]
    positionals = [a.replace("{tmp}", str(scratch)) for a in POSITIONALS.get(command, [])]
    if option in POSITIONAL_KINDS:  # the positional under test replaces its good value
        names = [a.metavar for a in _positionals(COMMANDS[command])]
        positionals[names.index(option)] = value
        argv = [command, *positionals, *base]
    else:
        argv = [command, *positionals, *base, f"{option}={value}"]
    before = _snapshot(scratch)
    code, out, err = _run(argv)
    lines = err.splitlines()
    assert "Traceback" not in err, err
    assert code == 2, (code, err, out[:300])
    assert len(lines) == 1, err
    assert _snapshot(scratch) == before, "a file was created or changed"


# --- standard output that fails, signals: real processes ---------------------------------------------------------


def _costmodel(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "costmodel", *argv], capture_output=True, timeout=120, **kwargs)


def test_full_stdout_is_one_line_and_exit_2():
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "costmodel", "count"], stdout=full, stderr=subprocess.PIPE, timeout=120
        )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1 and "No space left on device" in err, err


def test_closed_stdout_is_one_line_and_exit_2():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; os.close(1); from costmodel.cli import main; sys.exit(main(['count']))",
        ],
        stderr=subprocess.PIPE,
        timeout=120,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1 and "standard output" in err, err


class _GonePipe(io.StringIO):
    """Standard output whose reader went away: every write fails as a closed pipe's does (EPIPE). A real pipe
    cannot show this on every machine: some sandboxes' pipes accept writes after the reader closed."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_reader_going_away_is_quiet(monkeypatch, capsys):
    """`costmodel tables | head -1`: no traceback, nothing on stderr, exit 141 as for SIGPIPE."""
    monkeypatch.setattr(sys, "stdout", _GonePipe())
    assert main(["tables", "--table", "2"]) == 141
    assert capsys.readouterr().err == ""


def test_names_the_terminal_cannot_encode_are_escaped(tmp_path):
    spec = tmp_path / "net.json"
    spec.write_text(
        json.dumps({"name": "réseau-α", "input_size": 8, "layers": [{"type": "softmax", "name": "soft-α"}]}),
        encoding="utf-8",
    )
    proc = _costmodel("count", "--spec", str(spec), env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr
    assert b"soft-\\u03b1" in proc.stdout and proc.stderr == b""


def test_sigterm_during_a_write_leaves_nothing(tmp_path):
    """SIGTERM while the figures are being written: no temporary file stays behind, and no figure either
    (a set of files is written all or none)."""
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "costmodel", "plot", "--out", str(tmp_path / "figs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        start = time.monotonic()
        while not list(tmp_path.rglob(".figure*.tmp")) and time.monotonic() - start < 60:
            time.sleep(0.005)
        seen = list(tmp_path.rglob(".figure*.tmp"))
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    assert seen, "no temporary figure file was seen being written"
    assert code == 128 + signal.SIGTERM, proc.stderr.read().decode()[-2000:]
    assert list(tmp_path.rglob("*.tmp")) == [] and list(tmp_path.rglob("*.png")) == []


# --- no input makes a command print a non-finite or negative count -------------------------------------------

COUNT_KEYS = ("mult_adds", "flops", "params", "elements", "bytes")


def _walk(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def _check_numbers(text: str) -> None:
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-finite {c} in JSON output"))
    for path, value in _walk(doc):
        if isinstance(value, float):
            assert math.isfinite(value), path
        last = path.rsplit(".", 1)[-1]
        if isinstance(value, (int, float)) and any(k in last for k in COUNT_KEYS) and "minus" not in last:
            assert value >= 0, (path, value)


@settings(max_examples=40, deadline=None)
@given(
    alpha=st.floats(1 / 32, 4.0),
    resolution=st.integers(32, 2048),
    classes=st.integers(1, 100_000),
    convention=st.sampled_from(["paper", "thop", "ptflops+activation-ops", "keras+bn", "torch+bias-ops+pool-ops"]),
    flags=st.lists(st.sampled_from(["--shallow", "--full-conv"]), unique=True),
)
def test_count_json_is_finite_and_non_negative(alpha, resolution, classes, convention, flags):
    argv = ["count", "--alpha", repr(alpha), "--resolution", str(resolution), "--num-classes", str(classes)]
    code, out, err = _run([*argv, "--convention", convention, *flags, "--format", "json"])
    assert code == 0, err
    _check_numbers(out)


@pytest.mark.parametrize(
    "argv",
    [
        ["count", "--memory", "--alpha", "3.5", "--resolution", "1999"],
        ["count", "--network", "vgg16", "--convention", "thop"],
        ["conventions", "--network", "googlenet"],
        ["sweep", "--alpha", "0.03125", "64", "--resolution", "32", "4001"],
        ["sweep", "--rho", "0.143", "1"],
        ["formula", "--num-classes", "1"],
        ["budget", "--mult-adds", "1e12", "--resolution", "32", "4000"],
        ["budget", "--params", "1", "--alpha", "0.25", "1"],
        ["latency", "--profile", "{tmp}/good-profile.json", "--alpha", "3", "--resolution", "1000", "--batch", "64"],
        ["tables", "--table", "2", "6"],
        ["card"],
    ],
)
def test_json_outputs_are_finite_and_non_negative(argv, scratch):
    code, out, err = _run([*(a.replace("{tmp}", str(scratch)) for a in argv), "--format", "json"])
    assert code == 0, err
    _check_numbers(out)


# --- outputs the file system refuses: a name too long, a folder that cannot be read (issue 17) ---------------


def _as_nobody(argv: list[str]) -> tuple[int, str]:
    """Run ``main(argv)`` as user ``nobody`` in a forked child (root can read any folder, so a folder's
    permissions only show for another user); return the exit status and stderr. Forked, not executed: the
    interpreter may sit where ``nobody`` cannot reach it, and an output is checked before anything is imported."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.dup2(write, 2)
            os.setgid(65534)
            os.setuid(65534)
            sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), write_through=True)
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - report anything, then leave
            os.write(2, f"child failed: {exc!r}\n".encode())
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        err = f.read().decode()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err


@pytest.fixture
def unreadable(tmp_path_factory):
    """A folder nobody may read or enter (mode 000), inside a folder everyone may use; as root, tried as
    ``nobody``."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="costmodel-fuzz-"))
    base.chmod(0o777)
    folder = base / "unreadable"
    folder.mkdir()
    folder.chmod(0)
    try:
        yield folder
    finally:
        folder.chmod(0o700)
        shutil.rmtree(base)


@pytest.mark.parametrize(
    "argv",
    [
        ["count", "--out", "{dir}/out.txt"],
        ["count", "--out", "{dir}/deeper/out.txt"],
        ["tables", "--table", "2", "--out", "{dir}/t.csv"],
        ["plot", "--out", "{dir}/figs"],
        ["plot", "--out", "{dir}"],
        ["count", "--spec", "{dir}/net.json"],  # and a file to read in it
    ],
)
def test_a_folder_that_cannot_be_read_is_one_line_and_exit_2(unreadable, argv):
    argv = [a.replace("{dir}", str(unreadable)) for a in argv]
    before = sorted(p.name for p in unreadable.parent.iterdir())
    if os.geteuid() == 0:
        code, err = _as_nobody(argv)
    else:
        code, out, err = _run(argv)
    assert "Traceback" not in err and "child failed" not in err, err
    assert code == 2 and err.count("\n") == 1 and "Permission denied" in err, (code, err)
    assert sorted(p.name for p in unreadable.parent.iterdir()) == before


def _argv_with_out(command: str, scratch: Path, out: str) -> list[str]:
    """The command's good base arguments and positionals, with ``--out`` set to ``out``."""
    base = [a.replace("{tmp}", str(scratch)) for a in BASE_ARGS.get(command, [])]
    if "--out" in base:
        i = base.index("--out")
        del base[i : i + 2]
    positionals = [a.replace("{tmp}", str(scratch)) for a in POSITIONALS.get(command, [])]
    return [command, *positionals, *base, "--out", out]


OUT_COMMANDS = [c for c, p in COMMANDS.items() if any("--out" in a.option_strings for a in _options(p))]


@pytest.mark.parametrize("command", OUT_COMMANDS)
def test_names_the_file_system_refuses_are_one_line_and_exit_2(scratch, tmp_path, command):
    """A name too long for the file system (at the end, or in the middle), and `--out newdir/` when there is
    no such folder: one line, exit 2, nothing written (never a file called `newdir`)."""
    long = "x" * (os.pathconf(tmp_path, "PC_NAME_MAX") + 1)
    cases = [(f"{tmp_path}/{long}", "File name too long"), (f"{tmp_path}/{long}/out.txt", "File name too long")]
    if command not in FOLDER_OUT:  # a folder output takes a trailing slash
        cases.append((f"{tmp_path}/newdir/", "names a folder, not a file"))
    for out, piece in cases:
        code, _, err = _run(_argv_with_out(command, scratch, out))
        assert code == 2 and err.count("\n") == 1 and piece in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


# --- messages that name what the user gave, exits that say what happened (issue 17, group 7) ------------------


@pytest.mark.parametrize("command", ["calibrate", "validate-latency"])
def test_candidates_limit_names_the_number_typed(scratch, command):
    argv = [command, *(a.replace("{tmp}", str(scratch)) for a in BASE_ARGS[command])]
    code, _, err = _run([*argv, "--space", "ofa_mobilenet_v3", "--candidates", "2147483647"])
    assert code == 2 and err.count("\n") == 1, err
    assert "got 2147483647" in err and "4,294,967,294" not in err and "4294967294" not in err, err
    assert "at most 100,000" in err


def test_image_pixel_limit_from_the_environment_says_pixels(scratch, monkeypatch):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(scratch / "tiny.png")
    for bad in ("-5", "0.5", "lots"):
        monkeypatch.setenv("COSTMODEL_MAX_IMAGE_PIXELS", bad)
        code, _, err = _run(["run", *BASE_ARGS["run"], "--image", str(scratch / "tiny.png")])
        assert code == 2 and err.count("\n") == 1, err
        assert "COSTMODEL_MAX_IMAGE_PIXELS" in err and "pixels" in err and "byte" not in err, err
    (scratch / "tiny.png").unlink()


@pytest.mark.parametrize(
    "argv",
    [
        ["count"],
        ["budget", "--mult-adds", "3e8"],
        ["latency", "--profile", "{tmp}/good-profile.json"],
        ["export-onnx", "--out", "{tmp}/never.onnx", "--alpha", "0.25"],
    ],
)
def test_a_resolution_too_large_says_so(scratch, argv):
    argv = [a.replace("{tmp}", str(scratch)) for a in argv]
    code, _, err = _run([*argv, "--resolution", str(2**70)])
    assert code == 2 and err.count("\n") == 1, err
    assert "at most 2,147,483,647, got 1180591620717411303424" in err and "must be an integer" not in err, err


#: A command whose output (about 175 kB of JSON) is more than twice what a pipe holds (64 KiB on Linux).
BIG_OUTPUT = ["sweep", "--alpha", "0.25", "0.5", "0.75", "1", "2", "--format", "json", "--resolution"] + [
    str(r) for r in range(32, 1200, 8)
]


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
def test_reader_leaving_part_way_is_exit_141_never_0(unbuffered):
    """`costmodel sweep ... | head -c 10`: the reader leaves while the output is still being written. Python's
    unbuffered standard output used to take the pipe's short write as complete, drop the rest and exit 0."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    full = subprocess.run([sys.executable, "-m", "costmodel", *BIG_OUTPUT], capture_output=True, env=env, timeout=120)
    assert full.returncode == 0 and len(full.stdout) > 2 * 65536, len(full.stdout)  # larger than a pipe holds
    proc = subprocess.Popen(
        [sys.executable, "-m", "costmodel", *BIG_OUTPUT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        first = os.read(proc.stdout.fileno(), 10)
        proc.stdout.close()  # the reader goes away with most of the output unread
        code = proc.wait(timeout=120)
    finally:
        proc.kill()
    assert first == full.stdout[:10]
    assert code == 141 and proc.stderr.read() == b""  # quiet, as SIGPIPE would be


def test_short_write_then_no_room_is_an_error(tmp_path):
    """Standard output on a file system that fills part-way through a write: one line naming it, exit 2."""
    with small_tmpfs(tmp_path, "64k") as mount:
        for unbuffered in (False, True):
            env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
            if unbuffered:
                env["PYTHONUNBUFFERED"] = "1"
            with open(mount / "out.json", "wb") as out:
                proc = subprocess.run(
                    [sys.executable, "-m", "costmodel", *BIG_OUTPUT], stdout=out, stderr=subprocess.PIPE, env=env
                )
            err = proc.stderr.decode()
            assert proc.returncode == 2 and err.count("\n") == 1 and "No space left on device" in err, err
            (mount / "out.json").unlink()

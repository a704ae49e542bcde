"""Output writes: complete or nothing; symlinks, hard links and permissions kept; devices and folders refused."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from costmodel import CostModelError, WeightsError
from costmodel._files import atomic_write, atomic_write_many, check_folder, check_output


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_writes_whole_file_with_umask_permissions(tmp_path):
    target = tmp_path / "out.txt"
    old = os.umask(0o022)
    try:
        atomic_write(target, lambda f: f.write(b"hello\n"))
    finally:
        os.umask(old)
    assert target.read_bytes() == b"hello\n"
    assert target.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0o600
    assert _names(tmp_path) == ["out.txt"]


def test_failure_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert _names(tmp_path) == ["out.txt"]


def test_missing_folder_is_the_given_error(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "w.npz", lambda f: None, WeightsError)
    with pytest.raises(CostModelError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "t.csv", lambda f: None)


def test_existing_file_keeps_its_mode(tmp_path):
    target = tmp_path / "secret.txt"
    target.write_text("old")
    target.chmod(0o600)
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o600


def test_symlink_writes_its_target_and_stays_a_link(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write(link, lambda f: f.write(b"new"))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"
    assert real.stat().st_mode & 0o777 == 0o640


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "made.txt")
    atomic_write(link, lambda f: f.write(b"x"))
    assert link.is_symlink() and (tmp_path / "made.txt").read_bytes() == b"x"


def test_hard_link_keeps_every_name(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old")
    os.link(a, b)
    atomic_write(a, lambda f: f.write(b"new contents"))
    assert b.read_text() == "new contents"
    assert os.stat(a).st_ino == os.stat(b).st_ino
    assert _names(tmp_path) == ["a.txt", "b.txt"]


@pytest.mark.parametrize("make", ["folder", "fifo", "socket", "link-to-fifo", "loop"])
def test_not_a_regular_file_is_refused_untouched(tmp_path, make):
    path = tmp_path / "out"
    if make == "folder":
        path.mkdir()
    elif make == "fifo":
        os.mkfifo(path)
    elif make == "socket":
        import socket

        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    elif make == "link-to-fifo":
        os.mkfifo(tmp_path / "fifo")
        path.symlink_to(tmp_path / "fifo")
    else:
        path.symlink_to(tmp_path / "out2")
        (tmp_path / "out2").symlink_to(path)
    before = _names(tmp_path)
    with pytest.raises(CostModelError, match="cannot write"):
        atomic_write(path, lambda f: f.write(b"x"))
    with pytest.raises(CostModelError, match="cannot write"):
        check_output(path)
    assert _names(tmp_path) == before
    assert os.path.lexists(path)


def test_dev_null_is_refused_and_stays_a_device():
    with pytest.raises(CostModelError, match="character device"):
        atomic_write("/dev/null", lambda f: f.write(b"x"))
    import stat

    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_unwritable_folder_is_one_error(tmp_path):
    # /proc takes no new file, not even from root; a mode-500 folder does the same for anyone else
    with pytest.raises(CostModelError, match=r"cannot write '/proc/x.txt': folder '/proc'"):
        atomic_write("/proc/x.txt", lambda f: f.write(b"x"))
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        try:
            with pytest.raises(CostModelError, match="Permission denied"):
                atomic_write(folder / "x.txt", lambda f: f.write(b"x"))
        finally:
            folder.chmod(0o700)


def test_bad_paths_are_project_errors(tmp_path):
    for bad in (None, "", 3, "a\0b"):
        with pytest.raises(CostModelError):
            check_output(bad)
    (tmp_path / "file").write_text("")
    with pytest.raises(CostModelError, match="is not a folder"):
        check_output(tmp_path / "file" / "x.txt")
    with pytest.raises(CostModelError, match="not a folder"):
        check_folder(tmp_path / "file")


def test_a_set_of_files_is_all_or_none(tmp_path):
    (tmp_path / "b.txt").write_text("old b")

    def boom(f):
        raise RuntimeError("figure failed")

    items = [(tmp_path / "a.txt", lambda f: f.write(b"a")), (tmp_path / "b.txt", boom)]
    with pytest.raises(RuntimeError):
        atomic_write_many(items)
    assert _names(tmp_path) == ["b.txt"] and (tmp_path / "b.txt").read_text() == "old b"
    # one bad path in the set: nothing is written, not even the good ones before it
    os.mkfifo(tmp_path / "c.txt")
    with pytest.raises(CostModelError, match="FIFO"):
        atomic_write_many([(tmp_path / "a.txt", lambda f: f.write(b"a")), (tmp_path / "c.txt", lambda f: None)])
    assert _names(tmp_path) == ["b.txt", "c.txt"]


def test_set_creates_its_folder(tmp_path):
    out = atomic_write_many([(tmp_path / "new" / "a.txt", lambda f: f.write(b"a"))], folder=tmp_path / "new")
    assert [p.read_text() for p in out] == ["a"]


def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path):
    script = textwrap.dedent(
        """
        import sys, time
        from costmodel._files import atomic_write

        def slow(f):
            f.write(b"half")
            f.flush()
            print("writing", flush=True)
            time.sleep(30)

        atomic_write(sys.argv[1], slow)
        """
    )
    target = tmp_path / "out.txt"
    proc = subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"writing\n"
    assert len(_names(tmp_path)) == 1  # the temporary file exists while writing
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert _names(tmp_path) == []

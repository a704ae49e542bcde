"""Output writes: complete or nothing under every fault; symlinks, permissions, owners and extended attributes kept;
hard links broken by the rename (the other names keep the old file); devices and folders refused."""

import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from _tmpfs import small_tmpfs as small_tmpfs_at

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


def test_hard_link_gets_a_new_file_and_the_other_names_keep_the_old(tmp_path):
    """The rule (module docstring): the name given is replaced by rename; the other hard links keep the old file."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old")
    os.link(a, b)
    old_inode = os.stat(b).st_ino
    atomic_write(a, lambda f: f.write(b"new contents"))
    assert a.read_text() == "new contents" and b.read_text() == "old"
    assert os.stat(a).st_ino != old_inode and os.stat(b).st_ino == old_inode and os.stat(b).st_nlink == 1
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


# --- paths: a trailing slash, names too long, owners, extended attributes -----------------------------------------


def test_trailing_slash_names_a_folder_and_writes_no_file(tmp_path):
    """`--out newdir/` with no such folder: an error, never a file called `newdir`."""
    for path in (f"{tmp_path}/newdir/", f"{tmp_path}/newdir{os.sep}"):
        with pytest.raises(CostModelError, match="names a folder, not a file"):
            check_output(path)
        with pytest.raises(CostModelError, match="names a folder, not a file"):
            atomic_write(path, lambda f: f.write(b"x"))
    (tmp_path / "file.txt").write_text("old")  # an existing file named with a slash is refused as well
    with pytest.raises(CostModelError, match="names a folder"):
        atomic_write(f"{tmp_path}/file.txt/", lambda f: f.write(b"x"))
    assert _names(tmp_path) == ["file.txt"] and (tmp_path / "file.txt").read_text() == "old"
    # a folder output takes the slash: the folder is created and the set written into it
    out = atomic_write_many([(tmp_path / "figs" / "a.txt", lambda f: f.write(b"a"))], folder=f"{tmp_path}/figs/")
    assert [p.read_text() for p in out] == ["a"]


def test_name_too_long_for_the_file_system_is_one_error(tmp_path):
    long = "x" * (os.pathconf(tmp_path, "PC_NAME_MAX") + 1)
    for call in (
        lambda: check_output(tmp_path / long),
        lambda: atomic_write(tmp_path / long, lambda f: f.write(b"x")),
        lambda: check_output(tmp_path / long / "out.txt"),
        lambda: check_folder(tmp_path / long),
        lambda: check_folder(tmp_path / long / "figs"),
        lambda: atomic_write_many([(tmp_path / long / "a.txt", lambda f: None)], folder=tmp_path / long),
    ):
        with pytest.raises(CostModelError, match="File name too long"):
            call()
    assert _names(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "setxattr"), reason="extended attributes are a Linux API (os.setxattr)")
def test_replaced_file_keeps_its_extended_attributes(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    try:
        os.setxattr(target, "user.costmodel.note", b"keep me")
    except OSError as exc:
        pytest.skip(f"this file system takes no user.* extended attributes: {exc.strerror}")
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_text() == "new"
    assert os.getxattr(target, "user.costmodel.note") == b"keep me"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can give a file away")
def test_owner_and_set_user_id_bit_survive_a_replace_by_root(tmp_path):
    """chown clears the set-user-ID bit, so the mode is set after the owner (a file root rewrites for a user)."""
    target = tmp_path / "tool"
    target.write_text("old")
    os.chown(target, 65534, 65534)
    target.chmod(0o4755)
    atomic_write(target, lambda f: f.write(b"new"))
    st = target.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (65534, 65534, 0o4755)


# --- faults: a full disk, signals, concurrent writers -- the old file whole or the new file whole, never a mix ----

OLD, SIZE = b"O", 200_000


def _linked_target(folder):
    """``folder/out.bin`` holding the old contents, with a second hard link ``folder/other-name.bin``."""
    folder.mkdir(exist_ok=True)
    target = folder / "out.bin"
    target.write_bytes(OLD * SIZE)
    os.link(target, folder / "other-name.bin")
    return target


def _linked_set(folder, n=4):
    """A set of ``n`` files with old contents, the third one with a second hard link (as `plot --out` met it)."""
    folder.mkdir(exist_ok=True)
    paths = [folder / f"fig{i}.png" for i in range(n)]
    for p in paths:
        p.write_bytes(OLD * SIZE)
    os.link(paths[2], folder / "linked-elsewhere.png")
    return paths


def _writer(tag: bytes, size: int = SIZE, fail_after=None):
    def write(f):
        for i in range(size // 1000):
            if fail_after is not None and i * 1000 >= fail_after:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            f.write(tag * 1000)

    return write


def _assert_all_old(folder):
    assert [n for n in _names(folder) if n.endswith((".tmp", ".old"))] == []
    for p in folder.iterdir():
        assert p.read_bytes() == OLD * SIZE, p.name


def test_injected_full_disk_mid_write_keeps_the_hard_linked_file(tmp_path):
    target = _linked_target(tmp_path)
    with pytest.raises(CostModelError, match="No space left on device"):
        atomic_write(target, _writer(b"N", fail_after=SIZE // 2))
    _assert_all_old(tmp_path)


@pytest.mark.parametrize("failing", [0, 2, 3])
def test_injected_full_disk_mid_set_changes_nothing(tmp_path, failing):
    paths = _linked_set(tmp_path)
    items = [(p, _writer(b"N", fail_after=SIZE // 2 if i == failing else None)) for i, p in enumerate(paths)]
    with pytest.raises(CostModelError, match=rf"cannot write '.*fig{failing}.png': No space left"):
        atomic_write_many(items)
    _assert_all_old(tmp_path)


@pytest.mark.parametrize("fault", ["fsync", "link", "rename"])
@pytest.mark.parametrize("failing", [0, 2, 3])
def test_injected_fault_at_each_step_of_a_set_changes_nothing(tmp_path, monkeypatch, fault, failing):
    """A full disk found by fsync, no room for the link keeping an old file, a rename refused part-way: each
    file of the set ends old (the renames already done are undone)."""
    import costmodel._files as files

    paths = _linked_set(tmp_path)
    real = {"fsync": os.fsync, "link": os.link, "rename": os.replace}[fault]
    calls = []

    def fails_once(*args, **kwargs):
        if fault == "rename" and not str(args[0]).endswith(".tmp"):  # putting an old file back: never fails
            return real(*args, **kwargs)
        calls.append(args)
        if len(calls) == failing + 1:
            raise OSError(errno.ENOSPC if fault != "rename" else errno.EIO, "injected")
        return real(*args, **kwargs)

    monkeypatch.setattr(files.os, {"fsync": "fsync", "link": "link", "rename": "replace"}[fault], fails_once)
    with pytest.raises(CostModelError, match=rf"cannot write '.*fig{failing}.png': injected"):
        atomic_write_many([(p, _writer(b"N")) for p in paths])
    monkeypatch.undo()
    _assert_all_old(tmp_path)
    assert os.stat(paths[2]).st_ino == os.stat(tmp_path / "linked-elsewhere.png").st_ino  # put back, link and all


def test_failed_set_removes_the_folder_it_created(tmp_path):
    folder = tmp_path / "new" / "figs"
    with pytest.raises(CostModelError, match="No space left"):
        atomic_write_many([(folder / "a.png", _writer(b"N", fail_after=0))], folder=folder)
    assert _names(tmp_path) == []


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs: a real full disk."""
    with small_tmpfs_at(tmp_path, "1m") as mount:
        yield mount


def test_real_full_disk_keeps_the_hard_linked_file(small_tmpfs):
    folder = small_tmpfs / "one"
    target = _linked_target(folder)
    with pytest.raises(CostModelError, match="No space left on device"):
        atomic_write(target, _writer(b"N", size=2_000_000))
    _assert_all_old(folder)
    # room for the new contents once, not twice: rewriting the shared file in place (emptied, then filled from
    # the temporary file) ran out of space part-way and lost the old contents under both names
    atomic_write(target, _writer(b"N", size=600_000))
    assert target.read_bytes() == b"N" * 600_000 and (folder / "other-name.bin").read_bytes() == OLD * SIZE


def test_real_full_disk_mid_set_changes_nothing(small_tmpfs):
    """1 MiB holds the four old files and about one new one: the set fails part-way and changes nothing."""
    paths = _linked_set(small_tmpfs / "set")
    with pytest.raises(CostModelError, match="No space left on device"):
        atomic_write_many([(p, _writer(b"N")) for p in paths])
    _assert_all_old(small_tmpfs / "set")
    atomic_write_many([(p, _writer(b"N", size=1000)) for p in paths])  # the same set, small enough: all new
    assert [p.read_bytes() for p in paths] == [b"N" * 1000] * 4
    assert (small_tmpfs / "set" / "linked-elsewhere.png").read_bytes() == OLD * SIZE


_WRITER_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from costmodel._files import atomic_write_many

    mode, tag, paths = sys.argv[1], sys.argv[2].encode(), sys.argv[3:]

    def write(f):
        for i in range(200):
            f.write(tag * 1000)
            if mode == "slow-write" and i == 100:
                f.flush()
                print("writing", flush=True)
                time.sleep(30)

    if mode == "slow-rename":  # a pause after the first rename of the set: the signal comes mid-commit
        real = os.replace

        def replace(src, dst):
            real(src, dst)
            if str(src).endswith(".tmp") and not getattr(replace, "said", False):
                replace.said = True
                print("renaming", flush=True)
                time.sleep(1)

        os.replace = replace
    rounds = 40 if mode == "loop" else 1
    for _ in range(rounds):
        atomic_write_many([(p, write) for p in paths])
    """
)


def _start_writer(tmp_path, mode, tag, paths):
    script = tmp_path.parent / f"{tmp_path.name}-writer.py"
    script.write_text(_WRITER_SCRIPT)
    return subprocess.Popen(
        [sys.executable, str(script), mode, tag, *map(str, paths)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("shape", ["hard-linked file", "set"])
def test_signal_mid_write_keeps_the_old_contents(tmp_path, signum, shape):
    folder = tmp_path / "out"
    paths = [_linked_target(folder)] if shape == "hard-linked file" else _linked_set(folder)
    proc = _start_writer(tmp_path, "slow-write", "N", paths)
    try:
        assert proc.stdout.readline() == b"writing\n", proc.stderr.read().decode()[-2000:]
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 128 + signum
    finally:
        proc.kill()
    _assert_all_old(folder)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_mid_rename_finishes_the_set_then_exits(tmp_path, signum):
    """A signal between the renames of a set waits until the set is all in place, then ends the process."""
    folder = tmp_path / "out"
    paths = _linked_set(folder)
    proc = _start_writer(tmp_path, "slow-rename", "N", paths)
    try:
        assert proc.stdout.readline() == b"renaming\n", proc.stderr.read().decode()[-2000:]
        proc.send_signal(signum)
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    # SIGINT raises KeyboardInterrupt, and Python ends a process it stops by dying of SIGINT (status -2)
    assert code == (-signum if signum == signal.SIGINT else 128 + signum)
    assert [p.read_bytes() for p in paths] == [b"N" * SIZE] * len(paths)
    assert (folder / "linked-elsewhere.png").read_bytes() == OLD * SIZE
    assert [n for n in _names(folder) if n.endswith((".tmp", ".old"))] == []


def _complete(data: bytes) -> bytes:
    """The one byte a complete file repeats; fails on a short or mixed file."""
    assert len(data) == SIZE and data == data[:1] * SIZE, f"mixed or cut short: {len(data)} bytes, {set(data)}"
    return data[:1]


def test_concurrent_writers_to_a_hard_linked_file_never_mix(tmp_path):
    folder = tmp_path / "out"
    target = _linked_target(folder)
    writers = [_start_writer(tmp_path, "loop", tag, [target]) for tag in "AB"]
    seen = set()
    try:
        while any(w.poll() is None for w in writers):
            seen.add(_complete(target.read_bytes()))  # every read: one whole version
        assert [w.wait(timeout=120) for w in writers] == [0, 0], [w.stderr.read() for w in writers]
    finally:
        for w in writers:
            w.kill()
    assert _complete(target.read_bytes()) in (b"A", b"B") and seen <= {b"O", b"A", b"B"}
    assert (folder / "other-name.bin").read_bytes() == OLD * SIZE
    assert sorted(_names(folder)) == ["other-name.bin", "out.bin"]


def test_concurrent_writers_of_a_set_never_mix(tmp_path):
    """Two processes write the same set 40 times each. A reader that takes the folder lock, as the writers do,
    always finds one writer's whole set; so does everyone once both are done."""
    import fcntl

    folder = tmp_path / "out"
    paths = _linked_set(folder)
    writers = [_start_writer(tmp_path, "loop", tag, paths) for tag in "AB"]
    checks = 0
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            while any(w.poll() is None for w in writers):
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    assert len({_complete(p.read_bytes()) for p in paths}) == 1
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                checks += 1
        finally:
            os.close(fd)
        assert [w.wait(timeout=120) for w in writers] == [0, 0], [w.stderr.read() for w in writers]
    finally:
        for w in writers:
            w.kill()
    assert checks > 0 and {_complete(p.read_bytes()) for p in paths} in ({b"A"}, {b"B"})
    assert (folder / "linked-elsewhere.png").read_bytes() == OLD * SIZE
    assert [n for n in _names(folder) if n.endswith((".tmp", ".old"))] == []

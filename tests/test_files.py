"""Atomic writes: complete or nothing, with the permissions a plain open() would give."""

import os

import pytest

from costmodel import CostModelError, WeightsError
from costmodel._files import atomic_write


def test_writes_whole_file_with_umask_permissions(tmp_path):
    target = tmp_path / "out.txt"
    old = os.umask(0o022)
    try:
        atomic_write(target, lambda f: f.write(b"hello\n"))
    finally:
        os.umask(old)
    assert target.read_bytes() == b"hello\n"
    assert target.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failure_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_missing_folder_is_the_given_error(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "w.npz", lambda f: None, WeightsError)
    with pytest.raises(CostModelError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "t.csv", lambda f: None)

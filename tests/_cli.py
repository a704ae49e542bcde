"""The CLI's promise on bad input, as the tests check it: exit status 2 and exactly one line on stderr."""

from __future__ import annotations

import pytest

from costmodel.cli import main


def fails(argv: list[str], capsys: pytest.CaptureFixture[str], *pieces: str) -> None:
    """Run ``costmodel argv``; assert exit 2, one stderr line (no traceback) and every piece in it."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one line, no traceback
    for piece in pieces:
        assert piece in err

"""The CLI caps glibc malloc arenas (memory stays bounded with many image threads)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alphacut.allocator import limit_malloc_arenas


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_limit_takes_effect_on_glibc() -> None:
    code = "from alphacut.allocator import limit_malloc_arenas; print(limit_malloc_arenas(2))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_limit_is_a_no_op_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert limit_malloc_arenas() is False

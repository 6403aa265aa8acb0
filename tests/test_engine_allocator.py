"""The CLI caps glibc malloc arenas and maps large buffers (memory stays bounded with many
image threads)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alphacut.allocator import keep_heap_top, limit_malloc_arenas, map_large_buffers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_limit_takes_effect_on_glibc() -> None:
    code = "from alphacut.allocator import limit_malloc_arenas; print(limit_malloc_arenas(2))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_limit_is_a_no_op_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert limit_malloc_arenas() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_large_buffers_go_back_to_the_system_when_freed() -> None:
    # After one large block is freed glibc would put the next ones on the heap; with the
    # fixed threshold each is mapped, so freeing the later one shrinks RSS again.
    code = """
import psutil
from alphacut.allocator import map_large_buffers
print(map_large_buffers())
first = bytearray(20_000_000)
del first
second = bytearray(20_000_000)
second[::4096] = b"x" * len(second[::4096])
before = psutil.Process().memory_info().rss
del second
print((before - psutil.Process().memory_info().rss) / 2**20)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    took, dropped_mb = out.stdout.split()
    assert took == "True" and float(dropped_mb) > 15


def test_mapping_is_a_no_op_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert map_large_buffers() is False
    assert keep_heap_top() is False


_REFAULT = """
import resource, sys
from alphacut.allocator import keep_heap_top, map_large_buffers
map_large_buffers()
took = keep_heap_top() if sys.argv[1] == "keep" else True
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
band = bytearray(3_000_000)  # a band buffer: made, filled, freed, made again
del band
before = faults()
band = bytearray(3_000_000)
print(took, faults() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_a_freed_band_buffer_is_reused_without_fresh_page_faults() -> None:
    def refaults(mode: str) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", _REFAULT, mode], capture_output=True,
                             text=True, check=True)
        took, count = out.stdout.split()
        return took, int(count)

    took, kept = refaults("keep")
    _, trimmed = refaults("trim")
    assert took == "True"
    assert trimmed > 500  # 3 MB of fresh pages: the heap gave them back and took them again
    assert kept < 100

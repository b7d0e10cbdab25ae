"""aclf.memory: what the process frees goes back to the system."""
import sys

import pytest

from aclf.memory import return_freed_memory


def _rss_mb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc only")
def test_freed_heap_blocks_leave_the_process_when_a_run_starts():
    """Blocks glibc serves from its heap (4 KB each, 200 MB in all), freed with a few still live
    among them, stay resident until the next run's setup trims the heap."""
    return_freed_memory()
    blocks = [bytes(4000) + bytes([i % 256]) for i in range(50_000)]
    survivors = blocks[::1000]
    resident = _rss_mb()
    del blocks
    assert _rss_mb() > resident - 100             # freed, but still in the heap
    return_freed_memory()
    assert _rss_mb() < resident - 150
    assert len(survivors) == 50

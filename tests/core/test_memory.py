"""aclf.memory: what the process frees goes back to the system."""
import subprocess
import sys

import pytest

# in a process of its own: the test process's heap, after hundreds of tests and with their threads
# still about, would move the resident size by more than the margins below
PROBE = """
from aclf.memory import return_freed_memory

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))

return_freed_memory()
blocks = [bytes(4000) + bytes([i % 256]) for i in range(50_000)]
survivors = blocks[::1000]
resident = rss_mb()
del blocks
kept = rss_mb()
return_freed_memory()
print(resident, kept, rss_mb(), len(survivors))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc only")
def test_freed_heap_blocks_leave_the_process_when_a_run_starts():
    """Blocks glibc serves from its heap (4 KB each, 200 MB in all), freed with a few still live
    among them, stay resident until the next run's setup trims the heap."""
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    resident, kept, trimmed, survivors = map(int, probe.stdout.split())
    assert kept > resident - 100             # freed, but still in the heap
    assert trimmed < resident - 150
    assert survivors == 50

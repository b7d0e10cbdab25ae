"""How the process hands freed memory back to the system: a night's largest frames (LB, ADLB) are
built, written and let go one after another, and the peak is what matters on a shared machine.

Measured on a 10,000-subject night: with Arrow's default pool (mimalloc, which
keeps freed pages for reuse) and glibc's sliding mmap threshold, what the layers free stays
resident and the SDTM and ADaM layer peaks about 200 MB higher. Arrow's buffers go to the system
allocator instead, and glibc serves every block of 1 MiB and more by its own mmap, given back
when freed; smaller blocks, the many, are served as before. What a run freed in small blocks stays
in glibc's heap, scattered among live objects (about 350 MB after validation): each run starts by
trimming it, so that the next layer does not peak on top of it.
"""
from __future__ import annotations

import ctypes
import ctypes.util

import pyarrow as pa

M_MMAP_THRESHOLD = -3            # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD = 1 << 20


def return_freed_memory() -> None:
    """Set the allocators of this process as above and give back the heap's free pages; a no-op
    where the C library is not glibc."""
    pa.set_memory_pool(pa.system_memory_pool())
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version         # glibc only: mallopt's parameters are its own
    except (OSError, AttributeError, TypeError):
        return
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    libc.malloc_trim(0)

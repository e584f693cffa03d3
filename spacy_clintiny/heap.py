"""Keep freed memory in the process, so large temporary arrays reuse it.

Each inference batch allocates arrays of tens of megabytes (the encoder's padded output, the
heads' Maxout layers over every token of the batch) and frees them at the end of the batch.
glibc's ``malloc`` gives allocations above its mmap threshold their own pages and hands them
back to the kernel on ``free``, and trims the top of the heap when more than the trim threshold
is free: the next batch then touches fresh pages, one page fault each. On the virtual machines
this project is measured on, those faults cost more than the matrix products themselves: the
PHI head spent about a third of its time in them (800 PhysioNet notes in batches of 32, each
component timed alone, three runs alternated: the head's time 7.3-9.2 s → 5.1-5.9 s).

:func:`keep_freed_memory` raises both thresholds (``mallopt``), as ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` would before start-up: allocations up to 32 MiB (glibc's upper
limit) come from the heap, and up to 512 MiB of freed heap stays with the process for the next
batch. The cost is a resident size that stays near its peak instead of falling between batches.
The ``clintiny`` command and :func:`spacy_clintiny.deid.load_deid_pipeline` call it; set
``CLINTINY_KEEP_FREED_MEMORY=0`` to keep malloc's defaults. Other C libraries (macOS, musl) are
left as they are.
"""

import ctypes
import os
import sys
from typing import Dict

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc refuses more (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 512 * 1024 * 1024
ENV_VAR = "CLINTINY_KEEP_FREED_MEMORY"

_applied = False


def _wanted() -> bool:
    """Linux (glibc or not: other C libraries ignore the settings) and not turned off."""
    return os.environ.get(ENV_VAR, "1").strip() != "0" and sys.platform.startswith("linux")


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once).

    RETURNS (bool): Whether the thresholds are set: False off glibc, or when
        ``CLINTINY_KEEP_FREED_MEMORY`` is "0".
    """
    global _applied
    if _applied:
        return True
    if not _wanted():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; musl's returns 0 and changes nothing
    _applied = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _applied


def freed_memory_environment() -> Dict[str, str]:
    """The same thresholds as environment variables, for a child process that will not call
    :func:`keep_freed_memory` itself (``python -m spacy train``): glibc reads them at start-up.

    RETURNS (Dict[str, str]): ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``, or
        nothing when ``CLINTINY_KEEP_FREED_MEMORY`` is "0" or off Linux.
    """
    if not _wanted():
        return {}
    return {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}

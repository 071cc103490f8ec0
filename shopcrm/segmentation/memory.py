"""Handing a run's freed memory back to the system between its big steps (glibc's ``malloc_trim``).

A run at 100k customers frees and makes arrays of tens of MB at each step (rules, charts,
quality) in worker threads, while the store thread makes many small Python objects. glibc keeps
what was freed in each thread's arena for reuse, so the process's resident size grows with
every step as if the steps' memory were added up; trimming between steps lets the peak be
the largest step's instead. Where there is no glibc (macOS, Windows) this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache


@lru_cache(maxsize=1)
def _trim():
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def give_back() -> None:
    """Return the memory the process's allocator holds free to the system (best effort)."""
    trim = _trim()
    if trim is not None:
        trim(0)

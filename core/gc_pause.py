"""Python's cyclic garbage collector paused for one piece of bulk work, and started again
after it if it ran before.

A roster import or a chunk of the December batch makes some 100,000 – millions of small
objects that live to the end of the work and hold no cycles; the collector walked them
again and again, full collections over the whole Django heap included — 1.6 s of a roster
import's 5.6 s of Python CPU, 14 of 42 µs a member in the batch (bench/RESULTS.md).  Memory
is freed by reference counting as before; cycles left meanwhile are collected once it runs
again.  Used by ``subsidies.roster`` and ``family_pool.batch`` (each tests it around its
own work)."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused():
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

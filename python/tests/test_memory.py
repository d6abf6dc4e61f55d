# SPDX-License-Identifier: MIT
"""Nothing leaks per call: thousands of open/read/close (and write, error)
cycles leave the process's memory and the objects' reference counts where
they were.  Release builds have no sys.gettotalrefcount, so this watches
tracemalloc (Python allocations), RSS (C allocations too) and sys.getrefcount
of the objects passed in."""
import gc
import sys
import tracemalloc

import pytest

import sluice

CYCLES = 3000


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    pytest.skip("no VmRSS in /proc/self/status")


def cycle(op, payload, buf):
    op.write("obj", payload)
    with op.open("obj", "rb") as f:
        assert f.readinto(buf) == len(payload)
    with op.open("obj", "rb", chunk=65536) as f:
        assert f.read(10) == payload[:10]
        assert sum(len(c) for c in f) == len(payload) - 10
    with op.open("copy", "wb", chunk=65536) as w:
        with op.open("obj", "rb") as r:
            w.write_from(r)
    with op.open("w", "wb") as w:
        w.write(memoryview(payload)[:1000])
    try:
        op.stat("missing")
    except sluice.NotFound:
        pass
    op.stat("copy")
    list(op.list(""))


@pytest.mark.parametrize("scheme", ["memory", "fs"])
def test_open_read_close_cycles_do_not_grow(scheme, tmp_path):
    op = sluice.Operator(scheme, root=str(tmp_path)) if scheme == "fs" else sluice.Operator(scheme)
    payload = bytes(range(256)) * 256  # 64 KiB
    buf = bytearray(len(payload))
    for _ in range(200):  # warm up caches and pools
        cycle(op, payload, buf)
    gc.collect()
    refs = (sys.getrefcount(op), sys.getrefcount(payload), sys.getrefcount(buf))
    tracemalloc.start()
    rss0 = rss_kib()
    snap0 = tracemalloc.take_snapshot()
    for _ in range(CYCLES):
        cycle(op, payload, buf)
    gc.collect()
    snap1 = tracemalloc.take_snapshot()
    rss1 = rss_kib()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
    assert (sys.getrefcount(op), sys.getrefcount(payload), sys.getrefcount(buf)) == refs
    # A leak of one small object per cycle would show as > 3000 * 32 bytes.
    assert grown < 64 * 1024, grown
    # C-side leaks of one 64 KiB chunk per cycle would be ~190 MiB.
    assert rss1 - rss0 < 16 * 1024, (rss0, rss1)

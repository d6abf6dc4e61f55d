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


BOUND_SCRIPT = r"""
import os, sys, sluice
size, chunk, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
with open(os.path.join(root, "src.bin"), "wb") as f:
    f.truncate(size)  # sparse: reads cost no disk, the pipeline still moves every byte
fs = sluice.Operator("fs", root=root)
r, w = fs.open("src.bin"), fs.open("dst.bin", "wb", chunk=chunk, concurrent=4, queue_depth=4)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # VmHWM := current RSS: the copy's own peak is measured
base = kib("VmHWM")
w.write_from(r, readers=1)
w.close()
print(kib("VmHWM") - base, fs.stat("dst.bin").size)
"""


def test_peak_rss_of_a_big_write_from_stays_within_the_c_bound(tmp_path):
    import os
    import subprocess
    big = os.environ.get("SLUICE_TEST_BIG", "1G")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    size = int(big.rstrip("KMGiBb")) * units.get(big.rstrip("iBb")[-1:].upper(), 1)
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("cannot reset VmHWM (/proc/self/clear_refs)")
    if os.environ.get("SLUICE_SANITIZED") == "1":
        pytest.skip("sanitizers inflate RSS")
    chunk = 8 << 20
    out = subprocess.run([sys.executable, "-c", BOUND_SCRIPT, str(size), str(chunk),
                          str(tmp_path)], check=True, capture_output=True, text=True,
                         timeout=1800).stdout.split()
    grew_kib, copied = int(out[0]), int(out[1])
    assert copied == size
    # The header's bound, chunk x (queue_depth + concurrent + readers), plus
    # the same 16 MiB of slack as tests/rss_copy.c (stacks, malloc arenas).
    bound_kib = chunk * (4 + 4 + 1) // 1024 + 16 * 1024
    assert grew_kib <= bound_kib, (grew_kib, bound_kib)

# SPDX-License-Identifier: MIT
"""One operator serves many tasks and threads; blocking calls release the
GIL."""
import asyncio
import threading
import time

import pytest

import sluice
from conftest import HANG, make_file

MiB = 1024 * 1024


@pytest.mark.asyncio
async def test_many_concurrent_tasks_on_one_operator(tmp_path, s3_options, s3, prefix, uploads):
    make_file(tmp_path / "src.dat", 6 * MiB)
    src = sluice.AsyncOperator("fs", root=str(tmp_path))
    dest = sluice.AsyncOperator("s3", **s3_options)

    async def small(i):
        data = ("object %d " % i).encode() * (i + 1)
        await dest.write(prefix + "small/%03d" % i, data)
        assert await dest.read(prefix + "small/%03d" % i) == data
        assert (await dest.stat(prefix + "small/%03d" % i)).size == len(data)

    async def big(i):
        async with (await src.open("src.dat", "rb") as reader,
                    await dest.open(prefix + "big/%d" % i, "wb", chunk=5 * MiB,
                                    concurrent=2) as writer):
            await writer.write_from(reader)

    await asyncio.wait_for(asyncio.gather(*[small(i) for i in range(40)],
                                          *[big(i) for i in range(4)]), HANG)
    names = sorted([e.path async for e in await dest.list(prefix, recursive=True)])
    assert names == sorted([prefix + "small/%03d" % i for i in range(40)] +
                           [prefix + "big/%d" % i for i in range(4)])
    expected = (tmp_path / "src.dat").read_bytes()
    for i in range(4):
        assert await dest.read(prefix + "big/%d" % i) == expected
    assert uploads(prefix) == []


def test_other_thread_runs_during_blocking_write_from(tmp_path, s3, prefix):
    make_file(tmp_path / "src.dat", 48 * MiB)
    fs = sluice.Operator("fs", root=str(tmp_path))
    ticks = 0
    stop = threading.Event()

    def spin():
        nonlocal ticks
        while not stop.is_set():  # pure Python: needs the GIL to advance
            ticks += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before = ticks
        with fs.open("src.dat") as r, s3.open(prefix + "gil.dat", "wb", chunk=5 * MiB) as w:
            w.write_from(r)
        during = ticks - before
    finally:
        stop.set()
        t.join(HANG)
    assert s3.stat(prefix + "gil.dat").size == 48 * MiB
    # With the GIL held for the whole copy the counter could advance only
    # in the few switch intervals around it.
    assert during > 10000, during


def test_busy_writer_and_reader_refuse_other_calls(tmp_path, s3, prefix, uploads):
    # A reader or writer belongs to one thread at a time in C: while a job
    # (or another thread) uses one, other calls get RuntimeError instead of
    # entering the C handle concurrently.
    make_file(tmp_path / "src.dat", 64 * MiB)
    fs = sluice.Operator("fs", root=str(tmp_path))
    r = fs.open("src.dat")
    w = s3.open(prefix + "busy.dat", "wb", chunk=5 * MiB, concurrent=1)
    job = w.start_job(r)
    for call in (lambda: w.write(b"x"), w.close, w.abort, lambda: r.read(1), r.close,
                 lambda: w.start_job(r)):
        with pytest.raises((RuntimeError, ValueError)):
            call()
    job.cancel()
    with pytest.raises(sluice.Canceled):
        job.result()
    w.abort()
    r.close()
    with pytest.raises(sluice.NotFound):
        s3.stat(prefix + "busy.dat")
    assert uploads(prefix) == []

# SPDX-License-Identifier: MIT
"""Nothing is left behind when a write does not complete: an exception
inside `async with`/`with`, a cancelled task, a writer dropped unclosed."""
import asyncio
import gc
import time

import pytest

import sluice
from conftest import HANG, make_file

MiB = 1024 * 1024


def assert_nothing(s3, key, uploads, prefix):
    with pytest.raises(sluice.NotFound):
        s3.stat(key)
    assert uploads(prefix) == []


@pytest.mark.asyncio
async def test_exception_inside_async_with_aborts(s3, s3_options, prefix, uploads):
    dest = sluice.AsyncOperator("s3", **s3_options)
    key = prefix + "partial.dat"
    with pytest.raises(KeyError):
        async with await dest.open(key, "wb", chunk=5 * MiB) as writer:
            # Two full parts: the multipart upload exists on the server.
            await writer.write(bytes(11 * MiB))
            raise KeyError("boom")
    assert_nothing(s3, key, uploads, prefix)


@pytest.mark.asyncio
async def test_exception_inside_async_with_around_write_from_aborts(tmp_path, s3, s3_options,
                                                                    prefix, uploads):
    make_file(tmp_path / "src.dat", 7 * MiB)
    src = sluice.AsyncOperator("fs", root=str(tmp_path))
    dest = sluice.AsyncOperator("s3", **s3_options)
    key = prefix + "after.dat"
    with pytest.raises(KeyError):
        async with (await src.open("src.dat", "rb") as reader,
                    await dest.open(key, "wb", chunk=5 * MiB) as writer):
            copy = writer.start_write_from(reader)
            async for _ in copy.progress(0.01):
                raise KeyError("while copying")
    # The copy was never awaited: the writer's abort on the way out of the
    # block cancelled it and left nothing.
    assert copy.done()
    assert_nothing(s3, key, uploads, prefix)


def test_exception_inside_with_aborts(s3, prefix, uploads):
    key = prefix + "sync.dat"
    with pytest.raises(RuntimeError):
        with s3.open(key, "wb", chunk=5 * MiB) as w:
            w.write(bytearray(6 * MiB))
            raise RuntimeError("boom")
    assert_nothing(s3, key, uploads, prefix)


@pytest.mark.asyncio
async def test_task_cancellation_mid_write_from_aborts(tmp_path, s3, s3_options, prefix, uploads):
    make_file(tmp_path / "big.dat", 96 * MiB)
    src = sluice.AsyncOperator("fs", root=str(tmp_path))
    dest = sluice.AsyncOperator("s3", **s3_options)
    key = prefix + "cancelled.dat"
    started = asyncio.Event()

    def progress(p):
        if p.parts_done >= 1:
            started.set()

    async def copy():
        async with (await src.open("big.dat", "rb") as reader,
                    await dest.open(key, "wb", chunk=5 * MiB, concurrent=1) as writer):
            await writer.write_from(reader, progress=progress, interval=0.01)

    task = asyncio.create_task(copy())
    done, _ = await asyncio.wait([task, asyncio.create_task(started.wait())], timeout=HANG,
                                 return_when=asyncio.FIRST_COMPLETED)
    assert started.is_set() and not task.done(), "the copy should still be running"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, HANG)
    assert_nothing(s3, key, uploads, prefix)


@pytest.mark.asyncio
async def test_copy_cancel_raises_canceled(tmp_path, s3, s3_options, prefix, uploads):
    make_file(tmp_path / "big.dat", 64 * MiB)
    src = sluice.AsyncOperator("fs", root=str(tmp_path))
    dest = sluice.AsyncOperator("s3", **s3_options)
    key = prefix + "canceled.dat"
    reader = await src.open("big.dat", "rb")
    writer = await dest.open(key, "wb", chunk=5 * MiB, concurrent=1)
    copy = writer.start_write_from(reader)
    copy.cancel()
    with pytest.raises(sluice.Canceled) as info:
        await asyncio.wait_for(copy, HANG)
    assert info.value.kind == "canceled"
    assert writer.closed
    await reader.close()
    assert_nothing(s3, key, uploads, prefix)


def test_writer_dropped_without_close_is_aborted(s3, prefix, uploads):
    key = prefix + "dropped.dat"
    w = s3.open(key, "wb", chunk=5 * MiB)
    w.write(bytes(11 * MiB))
    # write() returns once the parts are queued; the upload starts soon after.
    deadline = time.monotonic() + HANG
    while uploads(prefix) == [] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uploads(prefix) != [], "the multipart upload should be in progress"
    del w
    gc.collect()
    assert_nothing(s3, key, uploads, prefix)


@pytest.mark.asyncio
async def test_async_writer_dropped_without_close_is_aborted(s3, s3_options, prefix, uploads):
    dest = sluice.AsyncOperator("s3", **s3_options)
    key = prefix + "dropped-async.dat"
    w = await dest.open(key, "wb", chunk=5 * MiB)
    await w.write(bytes(6 * MiB))
    del w
    gc.collect()
    # The executor thread that ran the last write may drop its reference a
    # moment after the await returned; the abort runs then.
    deadline = time.monotonic() + HANG
    while uploads(prefix) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert_nothing(s3, key, uploads, prefix)


def test_blocking_write_from_interrupted_by_progress_exception(tmp_path, s3, prefix, uploads):
    make_file(tmp_path / "big.dat", 64 * MiB)
    fs = sluice.Operator("fs", root=str(tmp_path))
    key = prefix + "interrupted.dat"

    def progress(p):
        if p.parts_done >= 1:
            raise KeyboardInterrupt  # what Ctrl-C raises in the main thread

    with pytest.raises(KeyboardInterrupt):
        with fs.open("big.dat") as r, s3.open(key, "wb", chunk=5 * MiB, concurrent=1) as w:
            w.write_from(r, progress=progress, interval=0.01)
    assert_nothing(s3, key, uploads, prefix)


@pytest.mark.asyncio
async def test_cancellation_at_any_moment_leaves_nothing(tmp_path, s3, s3_options, prefix,
                                                         uploads):
    # Early cancels land while the multipart upload is being created: the
    # upload must still be known, and aborted.
    make_file(tmp_path / "src.dat", 12 * MiB)
    src = sluice.AsyncOperator("fs", root=str(tmp_path))
    dest = sluice.AsyncOperator("s3", **s3_options)
    for i, delay in enumerate([0, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12]):
        key = prefix + "early-%d.dat" % i

        async def copy():
            async with (await src.open("src.dat", "rb") as reader,
                        await dest.open(key, "wb", chunk=5 * MiB, concurrent=1) as writer):
                await writer.write_from(reader)

        task = asyncio.create_task(copy())
        await asyncio.sleep(delay)
        task.cancel()
        try:
            await asyncio.wait_for(task, HANG)
        except asyncio.CancelledError:
            with pytest.raises(sluice.NotFound):
                s3.stat(key)
        else:
            assert s3.stat(key).size == 12 * MiB  # finished before the cancel
    assert uploads(prefix) == []

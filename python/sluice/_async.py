# SPDX-License-Identifier: MIT
"""The asyncio API: AsyncOperator, AsyncFile, AsyncWriter.

How each call waits, honestly:
  * ``AsyncWriter.write_from`` (and ``start_write_from``) runs as a
    libsluice job on the library's own threads; the event loop watches the
    job's fd with ``loop.add_reader``.  No executor thread is parked per
    copy, and cancelling the task cancels the job (upload aborted).
  * Every other call (stat, read, write, list, open, close, ...) runs the
    blocking C call in the loop's default executor
    (``loop.run_in_executor``), because libsluice has no job-based form of
    those operations: the job API covers write_from only.  Such a call holds
    an executor thread while it waits (the GIL is released meanwhile);
    cancelling its task does not interrupt the C call, which finishes in the
    background, and a writer or file waits for it before closing.
"""
import asyncio
import functools
import threading

from . import _sluice
from ._sluice import Error
from ._sync import File, Operator, Writer


async def _in_executor(fn, *args, **kwargs):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


async def _fd_ready(fd, timeout=None):
    """True once fd is readable; False after timeout seconds."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def settle(value):
        if not fut.done():
            fut.set_result(value)

    loop.add_reader(fd, settle, True)
    timer = loop.call_later(timeout, settle, False) if timeout is not None else None
    try:
        return await fut
    finally:
        loop.remove_reader(fd)
        if timer is not None:
            timer.cancel()


async def _finish_job(job, progress=None, interval=0.5):
    fd = job.fileno()
    try:
        if progress is None:
            await _fd_ready(fd)
        else:
            while not await _fd_ready(fd, interval):
                progress(job.progress())
            progress(job.progress())
    except BaseException:
        # Task cancelled (or the progress callback raised): stop the copy and
        # wait for its end, so that the upload is aborted before the
        # exception reaches the `async with` that owns the writer.
        job.cancel()
        while not job.done():
            try:
                await _fd_ready(fd)
            except asyncio.CancelledError:
                continue  # cancelled again: the job still ends soon
        try:
            job.result()
        except Error:
            pass
        raise
    job.result()


class AsyncCopy:
    """A running ``write_from`` (``AsyncWriter.start_write_from``).
    ``await copy`` waits for the end (raising its error); ``async for p in
    copy.progress(interval)`` yields Progress snapshots until the end;
    ``cancel()`` stops it (the upload is aborted, the await raises
    Canceled)."""

    def __init__(self, job):
        self._job = job

    def __await__(self):
        return _finish_job(self._job).__await__()

    def cancel(self):
        self._job.cancel()

    def done(self):
        return self._job.done()

    def snapshot(self):
        return self._job.progress()

    async def progress(self, interval=0.5):
        if not isinstance(interval, (int, float)) or interval <= 0:
            raise ValueError("interval must be a positive number")
        fd = self._job.fileno()
        while not await _fd_ready(fd, interval):
            yield self._job.progress()
        yield self._job.progress()


class _Serial:
    """Runs a handle's blocking calls one at a time in the executor: a
    reader or writer belongs to one thread at a time, and a call whose task
    was cancelled may still be running when the next one (say, the abort of
    an ``async with``) starts."""

    def __init__(self):
        self._lock = threading.Lock()

    async def run(self, fn, *args):
        def locked():
            with self._lock:
                return fn(*args)
        return await _in_executor(locked)


class AsyncFile:
    """``await op.open(path, "rb")``: ``await read(n)``, ``await
    readinto(buffer)``, ``async for chunk in file``, ``size``; ``async with``
    closes it."""

    def __init__(self, file):
        self._file = file
        self._serial = _Serial()

    @property
    def size(self):
        return self._file.size

    @property
    def closed(self):
        return self._file.closed

    async def read(self, size=-1):
        return await self._serial.run(self._file.read, size)

    async def readinto(self, buffer):
        return await self._serial.run(self._file.readinto, buffer)

    async def close(self):
        await self._serial.run(self._file.close)

    def __aiter__(self):
        return self

    async def __anext__(self):
        data = await self.read(self._file._iter_chunk)
        if not data:
            raise StopAsyncIteration
        return data

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.close()
        return False


class AsyncWriter:
    """``await op.open(path, "wb", chunk=..., concurrent=...)``: ``await
    write(data)``, ``await write_from(reader)``, ``await close()``, ``await
    abort()``.  ``async with``: a normal exit commits; an exception or a
    cancellation inside the block aborts (nothing at the path, no multipart
    upload left)."""

    def __init__(self, writer):
        self._writer = writer
        self._serial = _Serial()

    @property
    def closed(self):
        return self._writer.closed

    async def write(self, data):
        """Queues data (any bytes-like object, used in place: do not modify
        it until the await returns)."""
        return await self._serial.run(self._writer.write, data)

    async def close(self):
        await self._serial.run(self._writer.close)

    async def abort(self):
        await self._serial.run(self._writer.abort)

    def start_write_from(self, reader, *, readers=None):
        """Starts streaming ``reader`` (AsyncFile or File) into this writer
        as a libsluice job, commits at the end, and returns an AsyncCopy."""
        reader = getattr(reader, "_file", reader)
        return AsyncCopy(self._writer.start_job(reader, readers=readers))

    async def write_from(self, reader, *, progress=None, interval=0.5, readers=None):
        """Streams everything left in ``reader`` into this writer and
        commits it, in libsluice's pipeline (Python is not in the data
        path); the event loop only watches the job's fd.  ``progress``, if
        given, is called on the loop with a Progress snapshot every
        ``interval`` seconds and once at the end.  Cancelling the task
        cancels the copy and aborts the upload."""
        if progress is not None and not callable(progress):
            raise TypeError("progress must be callable")
        if not isinstance(interval, (int, float)) or interval <= 0:
            raise ValueError("interval must be a positive number")
        copy = self.start_write_from(reader, readers=readers)
        await _finish_job(copy._job, progress, interval)

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        if exc_type is None:
            await self.close()
        else:
            try:
                # Shielded: the abort must reach the service even when the
                # exception is this task's cancellation.
                await asyncio.shield(self.abort())
            except Error:
                pass
        return False


class _AsyncLister:
    def __init__(self, lister):
        self._lister = lister

    def __aiter__(self):
        return self

    async def __anext__(self):
        entry = await _in_executor(next, self._lister, None)
        if entry is None:
            raise StopAsyncIteration
        return entry


class AsyncOperator:
    """``AsyncOperator(scheme, **options)``: the asyncio face of Operator
    (same options).  ``AsyncOperator.from_uri(uri, **options)`` returns
    ``(operator, path)``."""

    def __init__(self, scheme, **options):
        self._op = Operator(scheme, **options)

    @classmethod
    def _wrap(cls, op):
        self = cls.__new__(cls)
        self._op = op
        return self

    @classmethod
    def from_uri(cls, uri, **options):
        op, path = Operator.from_uri(uri, **options)
        return cls._wrap(op), path

    @property
    def scheme(self):
        return self._op.scheme

    def to_operator(self):
        """The blocking Operator behind this one (shared)."""
        return self._op

    async def open(self, path, mode="rb", **options):
        """``await open(path, "rb", **reader_options)`` -> AsyncFile;
        ``await open(path, "wb", **writer_options)`` -> AsyncWriter."""
        if mode in ("rb", "r"):
            return AsyncFile(await _in_executor(File, self._op, path, **options))
        if mode in ("wb", "w"):
            return AsyncWriter(await _in_executor(Writer, self._op, path, **options))
        if not isinstance(mode, str):
            raise TypeError("mode must be a str, not %s" % type(mode).__name__)
        raise ValueError("mode must be 'rb' or 'wb', not %r" % (mode,))

    async def stat(self, path):
        return await _in_executor(self._op.stat, path)

    async def read(self, path, offset=0, length=None):
        return await _in_executor(self._op.read, path, offset, length)

    async def write(self, path, data, **options):
        return await _in_executor(self._op.write, path, data, **options)

    async def delete(self, path):
        return await _in_executor(self._op.delete, path)

    async def remove_all(self, path):
        return await _in_executor(self._op.remove_all, path)

    async def create_dir(self, path):
        return await _in_executor(self._op.create_dir, path)

    async def copy(self, source, target, **options):
        return await _in_executor(self._op.copy, source, target, **options)

    async def presign(self, method, path, expire_second):
        return self._op.presign(method, path, expire_second)

    async def presign_read(self, path, expire_second):
        return self._op.presign_read(path, expire_second)

    async def presign_write(self, path, expire_second):
        return self._op.presign_write(path, expire_second)

    async def presign_stat(self, path, expire_second):
        return self._op.presign_stat(path, expire_second)

    async def list(self, path="", *, recursive=False):
        """``async for entry in await op.list("dir/")``."""
        return _AsyncLister(await _in_executor(self._op.list, path, recursive=recursive))

    def __repr__(self):
        return "<sluice.AsyncOperator scheme=%r>" % self.scheme

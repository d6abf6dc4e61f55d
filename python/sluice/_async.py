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
import inspect
import os
import threading

from . import _sluice
from ._sluice import Error
from ._sync import (_OPERATOR_OPTIONS, File, Operator, Writer, _check_interval, _check_progress,
                    _check_readers, _document, _pump)


async def _in_executor(fn, *args, **kwargs):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


class AsyncCopy:
    """A running ``write_from`` (``AsyncWriter.start_write_from``): a
    libsluice job whose fd the event loop watches (one ``add_reader`` per
    copy, however many coroutines wait for it).  ``await copy`` waits for
    the end and raises its error; ``async for p in copy.progress(interval)``
    yields Progress snapshots until the end; ``cancel()`` stops it (the
    upload is aborted and the await raises Canceled).  A copy that nobody
    awaits still runs to its end, like a task; the ``async with`` of its
    writer or reader cancels it on an exception."""

    def __init__(self, job):
        self._job = job
        self._loop = asyncio.get_running_loop()
        self._ended = self._loop.create_future()  # result: the error or None
        self._loop.add_reader(job.fileno(), self._on_end)

    def _on_end(self):
        self._loop.remove_reader(self._job.fileno())
        try:
            self._job.result()  # ended: returns at once; frees writer and reader
            outcome = None
        except Error as e:
            outcome = e
        if not self._ended.done():
            self._ended.set_result(outcome)

    async def _end(self):
        """Waits for the end, even through cancellation of the waiter, and
        returns the outcome.  Used on the way out after a cancel(), which
        makes the end come soon."""
        while not self._ended.done():
            try:
                await asyncio.shield(self._ended)
            except asyncio.CancelledError:
                continue
        return self._ended.result()

    async def _finish(self, progress=None, interval=0.5):
        try:
            if progress is None:
                outcome = await asyncio.shield(self._ended)
            else:
                while not (await asyncio.wait([self._ended], timeout=interval))[0]:
                    progress(self._job.progress())
                progress(self._job.progress())
                outcome = self._ended.result()
        except BaseException:
            # Task cancelled (or the progress callback raised): stop the copy
            # and wait for its end, so that the upload is aborted before the
            # exception reaches the `async with` that owns the writer.
            self.cancel()
            await self._end()
            raise
        if outcome is not None:
            raise outcome

    def __await__(self):
        return self._finish().__await__()

    def cancel(self):
        self._job.cancel()

    def done(self):
        return self._ended.done()

    def snapshot(self):
        """The progress now (a Progress)."""
        return self._job.progress()

    async def progress(self, interval=0.5):
        """Yields a Progress snapshot every ``interval`` seconds and a last
        one at the end."""
        _check_interval(interval)
        while True:
            ended = (await asyncio.wait([self._ended], timeout=interval))[0]
            yield self._job.progress()
            if ended:
                return


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
        self._copy = None  # a write_from borrowing this reader

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

    async def seek(self, offset, whence=os.SEEK_SET):
        """``File.seek`` (io.UnsupportedOperation for a stream)."""
        return await self._serial.run(self._file.seek, offset, whence)

    async def tell(self):
        return await self._serial.run(self._file.tell)

    def seekable(self):
        return self._file.seekable()

    async def close(self):
        """Closes the reader; a write_from still reading it is cancelled
        first (it cannot go on without its source)."""
        if self._copy is not None and not self._copy.done():
            self._copy.cancel()
            await self._copy._end()
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
        self._copy = None

    @property
    def closed(self):
        return self._writer.closed

    async def write(self, data):
        """Queues data (any bytes-like object, used in place: do not modify
        it until the await returns)."""
        return await self._serial.run(self._writer.write, data)

    async def close(self):
        """Commits: waits for every part (and for a running write_from,
        which commits itself) and raises the first error of the writer's
        life.  Idempotent."""
        if self._copy is not None and not self._copy.done():
            await asyncio.shield(self._copy._ended)
        await self._serial.run(self._writer.close)

    async def abort(self):
        """Discards everything (cancelling a running write_from first);
        nothing appears at the path.  No-op after a commit."""
        if self._copy is not None and not self._copy.done():
            self._copy.cancel()
            await self._copy._end()
        await self._serial.run(self._writer.abort)

    def start_write_from(self, reader, *, readers=None):
        """Starts streaming ``reader`` (AsyncFile or File) into this writer
        as a libsluice job, commits at the end, and returns an AsyncCopy."""
        source = getattr(reader, "_file", reader)
        copy = AsyncCopy(self._writer.start_job(source, readers=readers))
        self._copy = copy
        if isinstance(reader, AsyncFile):
            reader._copy = copy
        return copy

    async def write_from(self, reader, *, progress=None, interval=0.5, readers=None):
        """Streams everything left in ``reader`` into this writer and
        commits it.  From an AsyncFile or File into a writer with nothing
        written yet, in libsluice's pipeline (Python is not in the data
        path); the event loop only watches the job's fd.  From any binary
        Python file object (``readinto``, else ``read``), or after
        ``write``, as ``Writer.write_from`` does it, in one executor thread.
        ``progress``, if given, is called on the loop with a Progress
        snapshot every ``interval`` seconds and once at the end.  Cancelling
        the task cancels the copy and aborts the upload."""
        _check_progress(progress, interval)
        source = getattr(reader, "_file", reader)
        if isinstance(source, _sluice.Reader) and self._writer.fresh:
            await self.start_write_from(reader, readers=readers)._finish(progress, interval)
            return
        _check_readers(readers)  # the library's copy is not used: no readers to take
        loop = asyncio.get_running_loop()
        report = None
        if progress is not None:
            def report(p):
                loop.call_soon_threadsafe(progress, p)
        stop = threading.Event()
        pump = asyncio.ensure_future(
            self._serial.run(_pump, self._writer, source, report, interval, stop))
        try:
            await asyncio.shield(pump)
        except asyncio.CancelledError:
            # The copy runs in a thread: stop it and wait until it has
            # aborted the writer, as a cancelled job does.
            stop.set()
            while not pump.done():
                try:
                    await asyncio.shield(pump)
                except BaseException:
                    pass
            raise

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
        """``(AsyncOperator, path)`` for a URI, as ``Operator.from_uri``."""
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

    async def exists(self, path):
        return await _in_executor(self._op.exists, path)

    async def rename(self, source, target):
        return await _in_executor(self._op.rename, source, target)

    async def delete(self, path):
        return await _in_executor(self._op.delete, path)

    async def remove_all(self, path):
        return await _in_executor(self._op.remove_all, path)

    async def create_dir(self, path):
        return await _in_executor(self._op.create_dir, path)

    async def copy(self, source, target, **options):
        return await _in_executor(self._op.copy, source, target, **options)

    async def copy_tree(self, src_dir, dst, dst_dir, *, progress=None, interval=0.5, plan=None,
                        **options):
        """``Operator.copy_tree`` as a libsluice job whose fd the event loop
        watches (no executor thread).  Cancelling the task cancels the job:
        transfers in flight are aborted, finished objects stay."""
        _check_progress(progress, interval)
        if plan is not None and not isinstance(plan, list):
            raise TypeError("plan must be a list")
        job = self._op.start_tree(src_dir, getattr(dst, "_op", dst), dst_dir, **options)
        failures = []

        def tick(p):
            failures.extend(job.failures())
            if plan is not None:
                plan.extend(job.planned())
            if progress is not None:
                progress(p)
        try:
            await AsyncCopy(job)._finish(tick, interval)
        except Error as e:
            e.failures = failures + job.failures()
            raise
        return job.progress()

    async def sync(self, src_dir, dst, dst_dir, *, delete=False, compare="size_mtime", **options):
        """``copy_tree`` in sync mode (see ``Operator.sync``)."""
        return await self.copy_tree(src_dir, dst, dst_dir, mode="sync", delete=delete,
                                    compare=compare, **options)

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


def _document_async():
    """Each coroutine without a docstring of its own gets its blocking
    twin's (options included), said to run in the loop's executor."""
    for name, fn in vars(AsyncOperator).items():
        twin = getattr(Operator, name, None)
        if name.startswith("_") or not callable(fn) or fn.__doc__ or twin is None:
            continue
        fn.__doc__ = ("``await``-able Operator.%s, run in the loop's default executor.\n\n%s"
                      % (name, inspect.cleandoc(twin.__doc__ or "")))
    _document(AsyncOperator, *_OPERATOR_OPTIONS)
    _document(AsyncOperator.open, ("Reader options (rb)", "reader"),
              ("Writer options (wb)", "writer"))
    _document(AsyncOperator.copy_tree, ("Options", "tree"))
    _document(AsyncOperator.sync, ("Options", "tree"))


_document_async()

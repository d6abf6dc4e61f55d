# SPDX-License-Identifier: MIT
"""The blocking API: Operator, File (open(path, "rb")) and Writer
(open(path, "wb")).  Every call that waits for a service releases the GIL
(in the C extension), so other Python threads keep running."""
import inspect
import io
import os
import textwrap
import time

from . import _sluice
from ._options import GROUPS
from ._sluice import Error, NotFound, Unsupported

#: Bytes per item when a File is iterated and no reader ``chunk`` was given.
ITER_CHUNK = 1 << 20


def _check_progress(progress, interval):
    if progress is not None and not callable(progress):
        raise TypeError("progress must be callable")
    _check_interval(interval)


def _check_interval(interval):
    if not isinstance(interval, (int, float)) or interval <= 0:
        raise ValueError("interval must be a positive number")


def _check_readers(readers):
    """What the library checks of write_from's readers, for the copy made
    in Python, which does not use them: a bad value is still refused."""
    if readers is not None and (not isinstance(readers, int) or isinstance(readers, bool)):
        raise TypeError("readers must be an int, not %s" % type(readers).__name__)
    if readers is not None and not 1 <= readers <= 64:
        raise ValueError("readers must be 1..64, not %d" % readers)


def _wait(job, progress, interval, tick=None):
    """Waits on this thread for ``job`` to end, calling ``tick`` and
    ``progress`` every ``interval`` seconds and ``progress`` once at the end.
    Any exception, Ctrl-C's included, cancels the job before it propagates:
    nothing keeps running behind the caller's back."""
    try:
        if progress is None and tick is None:
            job.wait()
            return
        while not job.wait(interval):
            if tick is not None:
                tick()
            if progress is not None:
                progress(job.progress())
        if progress is not None:
            progress(job.progress())
    except BaseException:
        job.cancel()
        try:
            job.result()
        except Error:
            pass
        raise


def _options_doc(title, *groups):
    """A docstring section listing the options of groups, from libsluice's
    own option table (sluice/_options.py, generated from docs/libsluice.3
    by python/gen_options.py): never written twice."""
    lines, seen = ["", "", title + ":"], set()
    for group in groups:
        for name, _unit, _default, text in GROUPS[group]:
            if name not in seen:
                seen.add(name)
                lines.extend(textwrap.wrap("%s -- %s" % (name, text), 78, initial_indent="  ",
                                           subsequent_indent="      ", break_on_hyphens=False))
    if len(lines) == 3:
        lines.append("  none")
    return "\n".join(lines)


def _document(obj, *sections):
    """Appends sections (title, group, ...) to obj's docstring."""
    obj.__doc__ = inspect.cleandoc(obj.__doc__ or "") + "".join(
        _options_doc(title, *groups) for title, *groups in sections)


def _pump(writer, source, progress, interval, stop=None):
    """write_from's copy through Python: ``source``'s bytes into ``writer``
    through one reused buffer, then commit; any exception (or ``stop``, a
    threading.Event, once set) aborts the writer.  The buffer may be reused
    at once: Writer.write copies what it is given into the writer's chunks
    before it returns."""
    readinto = getattr(source, "readinto", None)
    read = getattr(source, "read", None) if readinto is None else None
    if readinto is None and read is None:
        raise TypeError("write_from needs a File or a binary file object with readinto or read, "
                        "not %s" % type(source).__name__)
    if writer.closed:
        raise ValueError("write_from on a closed or aborted writer")
    buf = memoryview(bytearray(ITER_CHUNK))
    total = 0
    next_tick = time.monotonic() + interval

    def snapshot(written):
        # Every other count is 0: as many as the library's Progress has.
        rest = _sluice.Progress.n_sequence_fields - 3
        return _sluice.Progress((total, written, None) + (0,) * rest)
    try:
        while True:
            if readinto is not None:
                n = readinto(buf)
                if n is None:
                    raise BlockingIOError("write_from: the source is non-blocking and has no "
                                          "data now; give it a blocking file")
                data = buf[:n]
            else:
                data = read(ITER_CHUNK)
                if isinstance(data, str):
                    raise TypeError("write_from needs a binary file (bytes), not a text file")
                n = len(data)
            if not n:
                break
            if stop is not None and stop.is_set():
                raise _sluice.Canceled("write_from: canceled")
            writer.write(data)
            total += n
            if progress is not None and time.monotonic() >= next_tick:
                progress(snapshot(0))
                next_tick = time.monotonic() + interval
        writer.close()
    except BaseException:
        try:
            writer.abort()
        except Error:
            pass  # the first error is the one to see
        raise
    if progress is not None:
        progress(snapshot(total))


class PresignedRequest:
    """A presigned request, as OpenDAL's Python binding returns it: anyone
    holding ``url`` may perform ``method`` on the object until it expires.
    libsluice signs no headers beyond Host, so ``headers`` is empty."""

    __slots__ = ("url", "method", "headers")

    def __init__(self, url, method):
        self.url, self.method, self.headers = url, method, {}

    def __repr__(self):
        return "PresignedRequest(method=%r, url=%r)" % (self.method, self.url)


class Operator(_sluice.Operator):
    """``Operator(scheme, **options)``: one storage service ("fs", "memory",
    "s3", "http"); options as in libsluice's README (``root``, ``bucket``,
    ``endpoint``, ``region``, ``access_key_id``, ...).  Thread-safe: one
    operator serves any number of threads.  ``Operator.from_uri(uri,
    **options)`` returns ``(operator, path)``."""

    def open(self, path, mode="rb", **options):
        """``open(path, "rb", **reader_options)`` -> File;
        ``open(path, "wb", chunk=..., concurrent=..., queue_depth=...,
        content_type=..., if_not_exists=...)`` -> Writer."""
        if not isinstance(mode, str):
            raise TypeError("mode must be a str, not %s" % type(mode).__name__)
        if mode in ("rb", "r"):
            return File(self, path, **options)
        if mode in ("wb", "w"):
            return Writer(self, path, **options)
        raise ValueError("mode must be 'rb' or 'wb', not %r" % (mode,))

    def write(self, path, data, **options):
        """Writes data (any bytes-like object, not copied in Python) as a
        whole object; nothing is visible at ``path`` unless it all
        succeeds."""
        return super().write(path, data, **options)

    def copy(self, source, target, **options):
        """Copies within this operator (server-side where the service can,
        streamed through this process otherwise); ``target`` appears only
        once complete."""
        return super().copy(source, target, **options)

    def exists(self, path):
        """True when something is at ``path`` (an object, or a directory
        given as ``"dir/"``), False when ``stat`` says NotFound; any other
        error (permission, network...) is raised, never taken for absent."""
        try:
            self.stat(path)
        except NotFound:
            return False
        return True

    def presign_read(self, path, expire_second):
        return PresignedRequest(self.presign("GET", path, expire_second), "GET")

    def presign_write(self, path, expire_second):
        return PresignedRequest(self.presign("PUT", path, expire_second), "PUT")

    def presign_stat(self, path, expire_second):
        return PresignedRequest(self.presign("HEAD", path, expire_second), "HEAD")

    def copy_tree(self, src_dir, dst, dst_dir, *, progress=None, interval=0.5, plan=None,
                  **options):
        """Copies every object under ``src_dir`` (a directory or key prefix,
        "" for the root) to the same relative path under ``dst_dir`` on
        ``dst`` (an Operator or AsyncOperator; may be this one), in
        libsluice's tree job: a streamed listing, ``transfers`` objects in
        flight and one ``memory_limit`` for all of them.  Options as
        sluice_tree_start's (``transfers``, ``memory_limit``, ``bwlimit``,
        ``include``, ``exclude``, ``dry_run``, ``fail_fast``, ``chunk``...).
        ``progress`` is called with a Progress every ``interval`` seconds and
        at the end.  Returns the last Progress (``objects_done``,
        ``objects_skipped``, ...).  When some objects failed it raises
        Partial, whose ``failures`` lists ``(path, Error)`` pairs.  Ctrl-C
        (or an exception from ``progress``) cancels the job: transfers in
        flight are aborted, finished objects stay.  With ``dry_run=True``
        nothing is written or deleted: the Progress counts what a real run
        would do (``objects_would_copy``, ``objects_would_delete``), and
        ``plan``, a list, receives an ``(action, path, bytes)`` tuple for
        each object (action "copy" or "delete")."""
        _check_progress(progress, interval)
        if plan is not None and not isinstance(plan, list):
            raise TypeError("plan must be a list")
        job = self.start_tree(src_dir, getattr(dst, "_op", dst), dst_dir, **options)
        failures = []

        # Both lists are taken every interval, so the job's stay short.
        def tick():
            failures.extend(job.failures())
            if plan is not None:
                plan.extend(job.planned())
        _wait(job, progress, interval, tick)
        if plan is not None:
            plan.extend(job.planned())
        try:
            job.result()
        except Error as e:
            e.failures = failures + job.failures()
            raise
        return job.progress()

    def sync(self, src_dir, dst, dst_dir, *, delete=False, compare="size_mtime", **options):
        """``copy_tree`` that copies only what is missing or differs at the
        destination (``compare``: "size_mtime", "size" or "checksum") and,
        with ``delete=True``, deletes what exists only there."""
        return self.copy_tree(src_dir, dst, dst_dir, mode="sync", delete=delete, compare=compare,
                              **options)

    def to_async_operator(self):
        """An AsyncOperator sharing this operator."""
        from ._async import AsyncOperator
        return AsyncOperator._wrap(self)

    def __repr__(self):
        return "<sluice.Operator scheme=%r>" % self.scheme


_OPERATOR_OPTIONS = (("fs options", "fs"), ("memory options", "memory"), ("s3 options", "s3"),
                     ("http options", "http"))
_document(Operator, *_OPERATOR_OPTIONS)
_document(Operator.open, ("Reader options (rb)", "reader"), ("Writer options (wb)", "writer"))
_document(Operator.write, ("Writer options", "writer"))
_document(Operator.copy, ("Options", "writer", "copy"))
_document(Operator.copy_tree, ("Options", "tree"))
_document(Operator.sync, ("Options", "tree"))


class File(_sluice.Reader):
    """A streaming reader (``op.open(path, "rb")``): ``read(n)``,
    ``readinto(buffer)``, iteration by chunks, ``size``; a context manager
    that closes it.  Memory held: one chunk (times ``concurrent`` with
    prefetching)."""

    def __init__(self, operator, path, **options):
        super().__init__(operator, path, **options)
        chunk = options.get("chunk")
        self._iter_chunk = chunk if isinstance(chunk, int) and chunk > 0 else ITER_CHUNK
        try:
            super().tell()  # a stream refuses even that
            self._seekable = True
        except Unsupported:
            self._seekable = False

    def __iter__(self):
        return self

    def __next__(self):
        data = self.read(self._iter_chunk)
        if not data:
            raise StopIteration
        return data

    def readable(self):
        return True

    def writable(self):
        return False

    def seek(self, offset, whence=os.SEEK_SET):
        """``seek(offset, whence=os.SEEK_SET)`` -> the new position, as
        ``io.RawIOBase.seek``: from the start (SEEK_SET), the current
        position (SEEK_CUR) or the end (SEEK_END) of the range opened
        (``offset``/``length`` options).  A position past the end reads as
        the end.  Drops any read-ahead (``concurrent`` restarts it at the new
        position); without read-ahead, each later read is one ranged
        request on s3 and http.  A reader over a stream (a FIFO on fs)
        raises io.UnsupportedOperation."""
        try:
            return super().seek(offset, whence)
        except Unsupported as e:
            raise io.UnsupportedOperation(e.message) from e

    def tell(self):
        """The position: bytes from the start of the range opened."""
        try:
            return super().tell()
        except Unsupported as e:
            raise io.UnsupportedOperation(e.message) from e

    def seekable(self):
        return self._seekable

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False


class Writer(_sluice.Writer):
    """A streaming writer (``op.open(path, "wb", ...)``).  Nothing appears at
    the path until ``close()`` commits.  As a context manager, a normal exit
    commits and an exception aborts (nothing at the path, no multipart
    upload left).  A writer dropped without ``close()`` is aborted."""

    def write_from(self, reader, *, progress=None, interval=0.5, readers=None):
        """Streams everything left in ``reader`` into this writer and
        commits it.  ``reader`` is a File (or AsyncFile), or any binary
        Python file object: one with ``readinto`` (``open(p, "rb")``,
        ``io.BytesIO``, a socket's ``makefile("rb")``...), else ``read``.

        From a File into a writer with nothing written yet, it all runs in
        libsluice's pipeline: Python is not in the data path and the GIL is
        released while it runs.  Otherwise (a Python file object, or bytes
        already given to ``write``, which come first) this thread copies
        ``ITER_CHUNK`` bytes at a time through one reused buffer, releasing
        the GIL in every library call: memory stays one buffer plus the
        writer's own, whatever the size.

        ``progress``, if given, is called with a Progress snapshot every
        ``interval`` seconds and once at the end, on this thread (for a
        Python copy only ``bytes_read`` moves until the end, when
        ``bytes_written`` is the total).  Ctrl-C, an error, or any exception
        from ``progress`` cancels the copy and aborts the upload."""
        _check_progress(progress, interval)
        source = getattr(reader, "_file", reader)
        if isinstance(source, _sluice.Reader) and self.fresh:
            job = self.start_job(source, readers=readers)
            _wait(job, progress, interval)
            job.result()
            return
        _check_readers(readers)  # the library's copy is not used: no readers to take
        _pump(self, source, progress, interval)

    def writable(self):
        return True

    def readable(self):
        return False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            try:
                self.abort()
            except Error:
                pass  # the body's exception is the one to see
        return False


_document(File, ("Reader options", "reader"))
_document(Writer, ("Writer options", "writer"))

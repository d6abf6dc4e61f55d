# SPDX-License-Identifier: MIT
"""The blocking API: Operator, File (open(path, "rb")) and Writer
(open(path, "wb")).  Every call that waits for a service releases the GIL
(in the C extension), so other Python threads keep running."""
from . import _sluice
from ._sluice import Error

#: Bytes per item when a File is iterated and no reader ``chunk`` was given.
ITER_CHUNK = 1 << 20


def _check_progress(progress, interval):
    if progress is not None and not callable(progress):
        raise TypeError("progress must be callable")
    _check_interval(interval)


def _check_interval(interval):
    if not isinstance(interval, (int, float)) or interval <= 0:
        raise ValueError("interval must be a positive number")


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


class File(_sluice.Reader):
    """A streaming reader (``op.open(path, "rb")``): ``read(n)``,
    ``readinto(buffer)``, iteration by chunks, ``size``; a context manager
    that closes it.  Memory held: one chunk (times ``concurrent`` with
    prefetching)."""

    def __init__(self, operator, path, **options):
        super().__init__(operator, path, **options)
        chunk = options.get("chunk")
        self._iter_chunk = chunk if isinstance(chunk, int) and chunk > 0 else ITER_CHUNK

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

    def seekable(self):
        return False

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
        """Streams everything left in ``reader`` (a File) into this writer
        and commits it, all in libsluice's pipeline: Python is not in the
        data path and the GIL is released while it runs.  ``progress``, if
        given, is called with a Progress snapshot every ``interval`` seconds
        and once at the end, on this thread.  Ctrl-C (or any exception from
        ``progress``) cancels the copy and aborts the upload."""
        _check_progress(progress, interval)
        reader = getattr(reader, "_file", reader)
        job = self.start_job(reader, readers=readers)
        _wait(job, progress, interval)
        job.result()

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

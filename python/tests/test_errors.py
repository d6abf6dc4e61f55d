# SPDX-License-Identifier: MIT
"""Every error kind arrives as its own class, with Python's usual base,
the library's message, retryable and http_status.  Each kind is produced for
real (a service, or a small HTTP server on loopback answering a chosen
status) except out-of-memory, whose class is checked statically."""
import asyncio
import http.server
import os
import socket
import threading

import pytest

import sluice
from conftest import HANG, make_file

BASES = {
    "NotFound": FileNotFoundError, "PermissionDenied": PermissionError,
    "AlreadyExists": FileExistsError, "IsADirectory": IsADirectoryError,
    "InvalidArgument": ValueError, "ConfigInvalid": ValueError,
    "Unsupported": NotImplementedError, "IOFailure": OSError, "NetworkError": ConnectionError,
    "Timeout": TimeoutError, "OutOfMemory": MemoryError, "RateLimited": sluice.Error,
    "ConditionNotMatch": sluice.Error, "RangeNotSatisfiable": sluice.Error,
    "Canceled": sluice.Error, "Unexpected": sluice.Error, "Rejected": sluice.Error,
}


@pytest.mark.parametrize("name", sorted(BASES))
def test_class_hierarchy(name):
    cls = getattr(sluice, name)
    assert issubclass(cls, sluice.Error) and issubclass(cls, BASES[name])
    assert cls.__module__ == "sluice"


class StatusServer(http.server.BaseHTTPRequestHandler):
    """Answers /NNN with status NNN and an empty body; /hang never answers."""

    def do_HEAD(self):
        self.answer()

    def do_GET(self):
        self.answer()

    def answer(self):
        name = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        if name == "hang":
            self.server.release.wait(HANG)
            return
        self.send_response(int(name[:3]))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def status_endpoint():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StatusServer)
    srv.daemon_threads = True
    srv.release = threading.Event()
    t = threading.Thread(target=srv.serve_forever)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.release.set()
    srv.shutdown()
    t.join(HANG)
    srv.server_close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raised(fn):
    with pytest.raises(sluice.Error) as info:
        fn()
    return info.value


def check(exc, cls, kind, status=0, retryable=None):
    assert type(exc) is cls, (type(exc), exc)
    assert exc.kind == kind
    assert exc.http_status == status
    if retryable is not None:
        assert exc.retryable is retryable
    assert str(exc) == exc.message and exc.message


def test_fs_and_memory_errors(tmp_path):
    op = sluice.Operator("fs", root=str(tmp_path))
    op.write("file", b"1")
    (tmp_path / "dir").mkdir()
    os.symlink("/etc/hostname", tmp_path / "outside")
    os.symlink(tmp_path / "l1", tmp_path / "l2")
    os.symlink(tmp_path / "l2", tmp_path / "l1")
    check(raised(lambda: op.stat("missing")), sluice.NotFound, "not_found")
    assert "missing" in raised(lambda: op.stat("missing")).message
    check(raised(lambda: op.read("outside")), sluice.PermissionDenied, "permission_denied")
    check(raised(lambda: op.write("file", b"2", if_not_exists=True)), sluice.AlreadyExists,
          "already_exists")
    check(raised(lambda: op.open("dir", "rb")), sluice.IsADirectory, "is_a_directory")
    check(raised(lambda: op.write("x", b"", chunk="lots")), sluice.InvalidArgument,
          "invalid_argument")
    check(raised(lambda: sluice.Operator("fs", root=str(tmp_path / "nope"))),
          sluice.ConfigInvalid, "config_invalid")
    check(raised(lambda: sluice.Operator("no-such-scheme")), sluice.Unsupported, "unsupported")
    check(raised(lambda: op.read("file", 5)), sluice.RangeNotSatisfiable, "range_not_satisfiable")
    check(raised(lambda: op.read("l1")), sluice.IOFailure, "io")


def test_http_status_errors(status_endpoint):
    op = sluice.Operator("http", endpoint=status_endpoint, max_attempts=1)
    check(raised(lambda: op.stat("404")), sluice.NotFound, "not_found", 404, False)
    check(raised(lambda: op.stat("403")), sluice.PermissionDenied, "permission_denied", 403)
    check(raised(lambda: op.stat("429")), sluice.RateLimited, "rate_limited", 429, True)
    check(raised(lambda: op.stat("412")), sluice.ConditionNotMatch, "condition_not_match", 412)
    check(raised(lambda: op.stat("500")), sluice.Unexpected, "unexpected", 500, True)
    check(raised(lambda: op.stat("400")), sluice.Rejected, "rejected", 400, False)


def test_network_and_timeout_errors(s3_options, status_endpoint):
    down = sluice.Operator("s3", **dict(s3_options, endpoint="http://127.0.0.1:%d" % closed_port(),
                                        max_attempts=1))
    check(raised(lambda: down.stat("x")), sluice.NetworkError, "network", 0, True)
    slow = sluice.Operator("s3", **dict(s3_options, endpoint=status_endpoint, max_attempts=1,
                                        low_speed_limit=1, low_speed_time=1))
    check(raised(lambda: slow.stat("hang")), sluice.Timeout, "timeout", 0, True)


def test_s3_errors(s3, s3_options, prefix):
    s3.write(prefix + "x", b"1")
    bad = sluice.Operator("s3", **dict(s3_options, secret_access_key="not-the-secret"))
    e = raised(lambda: bad.stat(prefix + "x"))
    check(e, sluice.PermissionDenied, "permission_denied", 403, False)
    assert "not-the-secret" not in str(e)
    check(raised(lambda: s3.write(prefix + "x", b"2", if_not_exists=True)), sluice.AlreadyExists,
          "already_exists")
    check(raised(lambda: s3.stat(prefix + "nothing")), sluice.NotFound, "not_found", 404)


@pytest.mark.asyncio
async def test_canceled(tmp_path, s3_options, prefix, s3):
    make_file(tmp_path / "src.dat", 32 << 20)
    src = sluice.AsyncOperator("fs", root=str(tmp_path))
    dest = sluice.AsyncOperator("s3", **s3_options)
    r = await src.open("src.dat")
    w = await dest.open(prefix + "c", "wb", chunk="5MiB", concurrent=1)
    copy = w.start_write_from(r)
    copy.cancel()
    with pytest.raises(sluice.Canceled) as info:
        await asyncio.wait_for(copy, HANG)
    check(info.value, sluice.Canceled, "canceled")
    # The writer's close reports the same outcome; nothing was stored.
    with pytest.raises(sluice.Canceled):
        await w.close()
    await r.close()
    with pytest.raises(sluice.NotFound):
        s3.stat(prefix + "c")

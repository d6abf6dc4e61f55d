# SPDX-License-Identifier: MIT
"""What OpenDAL and boto3 users reach for (issue 21): exists, rename,
seek/tell, user_metadata, os.PathLike paths, create_dir on S3, write_from
from any binary file object and after write(), errno on the OSError
subclasses.  Against the real S3 server where the service matters."""
import asyncio
import errno
import io
import os
import pathlib
import threading

import pytest

import sluice
from conftest import HANG

MiB = 1 << 20


def pattern(size, seed=0):
    """size bytes that differ at every 4 KiB (a misplaced range shows)."""
    block = bytes(range(256)) * 16
    return b"".join(i.to_bytes(4, "little") + bytes([seed & 0xFF]) + block[5:]
                    for i in range((size + 4095) // 4096))[:size]


@pytest.fixture
def mem():
    return sluice.Operator("memory")


# ---- errno -------------------------------------------------------------

def test_errno_on_oserror_subclasses(fs, tmp_path, mem):
    with pytest.raises(FileNotFoundError) as e:
        mem.stat("missing")
    assert e.value.errno == errno.ENOENT
    assert "missing" in str(e.value) and "Errno" not in str(e.value)  # the message stays
    mem.write("there", b"x")
    with pytest.raises(FileExistsError) as e:
        mem.write("there", b"y", if_not_exists=True)
    assert e.value.errno == errno.EEXIST
    os.mkdir(tmp_path / "d")
    with pytest.raises(IsADirectoryError) as e:
        fs.read("d/")
    assert e.value.errno == errno.EISDIR
    with pytest.raises(FileNotFoundError) as e:
        fs.read("nope")
    assert e.value.errno == errno.ENOENT
    # Not OSErrors: no errno attribute invented.
    with pytest.raises(sluice.InvalidArgument) as e:
        mem.write("x", b"", chunk="12 parsecs")
    assert not hasattr(e.value, "errno")


def test_errno_on_s3_not_found(s3, prefix):
    with pytest.raises(sluice.NotFound) as e:
        s3.stat(prefix + "missing")
    assert e.value.errno == errno.ENOENT and e.value.http_status == 404


# ---- exists and rename ---------------------------------------------------

def test_exists(s3, prefix, mem):
    for op, base in ((s3, prefix), (mem, "")):
        assert op.exists(base + "a") is False
        op.write(base + "a", b"1")
        assert op.exists(base + "a") is True
        assert op.exists(pathlib.PurePosixPath(base + "a")) is True
    assert s3.exists(prefix) is True  # a prefix with a key under it
    assert s3.exists(prefix + "nodir/") is False
    with pytest.raises(TypeError):
        mem.exists(5)
    with pytest.raises(ValueError):
        mem.exists("a\0b")


def test_exists_raises_what_is_not_absence(s3_options, prefix):
    op = sluice.Operator("s3", **dict(s3_options, secret_access_key="wrong"))
    with pytest.raises(sluice.PermissionDenied):
        op.exists(prefix + "a")


@pytest.mark.parametrize("service", ["s3", "fs", "mem"])
def test_rename(service, request, prefix):
    op = request.getfixturevalue(service)
    base = prefix if service == "s3" else ""
    data = pattern(300000)
    op.write(base + "old", data)
    op.rename(base + "old", base + "sub/new")
    assert op.read(base + "sub/new") == data
    assert not op.exists(base + "old")
    with pytest.raises(sluice.NotFound):
        op.rename(base + "old", base + "other")
    assert not op.exists(base + "other")


def test_rename_on_fs_is_rename(fs, tmp_path):
    (tmp_path / "a").write_bytes(b"same inode")
    inode = os.stat(tmp_path / "a").st_ino
    fs.rename("a", "deep/er/b")
    assert os.stat(tmp_path / "deep/er/b").st_ino == inode  # moved, not copied
    assert not (tmp_path / "a").exists()
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        fs.rename("d", "e")
    with pytest.raises(IsADirectoryError):
        fs.rename("deep/er/b", "d/")
    assert (tmp_path / "deep/er/b").exists()


# ---- seek / tell ---------------------------------------------------------

@pytest.mark.parametrize("options", [{}, {"concurrent": 3, "chunk": 65536}],
                         ids=["plain", "readahead"])
def test_seek_tell_s3(s3, prefix, options):
    data = pattern(700000)
    s3.write(prefix + "obj", data)
    with s3.open(prefix + "obj", "rb", **options) as f:
        assert f.seekable() and f.tell() == 0
        assert f.read(1000) == data[:1000] and f.tell() == 1000
        assert f.seek(500000) == 500000
        assert f.read(100000) == data[500000:600000]
        assert f.seek(-300000, os.SEEK_CUR) == 300000
        assert f.read(10) == data[300000:300010]
        assert f.seek(-7, os.SEEK_END) == len(data) - 7
        assert f.read() == data[-7:] and f.read(1) == b""
        assert f.seek(10, os.SEEK_END) == len(data) + 10  # past the end reads as the end
        assert f.read(5) == b""
        f.seek(0)
        buf = bytearray(len(data))
        assert f.readinto(buf) == len(data) and buf == data
        with pytest.raises(ValueError):
            f.seek(-1)
        with pytest.raises(ValueError):
            f.seek(0, 3)
        with pytest.raises(ValueError):
            f.seek(1 << 70)
        with pytest.raises(TypeError):
            f.seek("0")
        with pytest.raises(TypeError):
            f.seek(1.5)
        assert f.tell() == len(data)  # the refused seeks moved nothing


def test_seek_within_a_range(mem):
    data = pattern(10000)
    mem.write("obj", data)
    with mem.open("obj", "rb", offset=1000, length=500) as f:
        assert f.seek(0, os.SEEK_END) == 500
        assert f.seek(-100, os.SEEK_END) == 400
        assert f.read() == data[1400:1500]


def test_seek_refused_on_a_stream(fs, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as w:
            w.write(b"streamed")
    t = threading.Thread(target=feed)
    t.start()
    try:
        with fs.open("fifo", "rb") as f:
            assert f.seekable() is False
            with pytest.raises(io.UnsupportedOperation):
                f.seek(0)
            with pytest.raises(io.UnsupportedOperation):
                f.tell()
            assert f.read() == b"streamed"
    finally:
        t.join(HANG)


def test_seek_closed(mem):
    mem.write("obj", b"abc")
    f = mem.open("obj", "rb")
    f.close()
    with pytest.raises(ValueError):
        f.seek(0)


def test_async_seek(s3_options, prefix):
    async def main():
        op = sluice.AsyncOperator("s3", **s3_options)
        data = pattern(100000)
        await op.write(prefix + "obj", data)
        async with await op.open(prefix + "obj", "rb") as f:
            assert await f.seek(-10, os.SEEK_END) == len(data) - 10
            assert await f.tell() == len(data) - 10
            assert await f.read() == data[-10:]
        await op.remove_all(prefix)
    asyncio.run(asyncio.wait_for(main(), HANG))


# ---- user_metadata ---------------------------------------------------------

def test_user_metadata_s3(s3, prefix):
    s3.write(prefix + "m", b"abc", user_metadata={"Colour": "blue", "owner-id": "a b=c"})
    meta = s3.stat(prefix + "m")
    assert meta.user_metadata == {"colour": "blue", "owner-id": "a b=c"}
    assert len(meta) == 5  # the tuple is unchanged: size, is_dir, mtime, etag, content_type
    with s3.open(prefix + "w", "wb", user_metadata={"k": "v"}) as w:
        w.write(b"x")
    assert s3.stat(prefix + "w").user_metadata == {"k": "v"}
    # The string form of the C option works as before.
    s3.write(prefix + "s", b"", user_metadata="a=1&b=2")
    assert s3.stat(prefix + "s").user_metadata == {"a": "1", "b": "2"}
    s3.write(prefix + "none", b"")
    assert s3.stat(prefix + "none").user_metadata == {}
    # A copy keeps them (CopyObject's metadata directive COPY).
    s3.copy(prefix + "m", prefix + "m2")
    assert s3.stat(prefix + "m2").user_metadata == {"colour": "blue", "owner-id": "a b=c"}


def test_user_metadata_bad(s3, prefix, mem):
    with pytest.raises(TypeError):
        s3.write(prefix + "x", b"", user_metadata={"k": 1})
    with pytest.raises(TypeError):
        s3.write(prefix + "x", b"", user_metadata={1: "v"})
    with pytest.raises(ValueError):
        s3.write(prefix + "x", b"", user_metadata={"k": "a&b"})
    with pytest.raises(ValueError):
        s3.write(prefix + "x", b"", user_metadata={"k=j": "v"})
    with pytest.raises(ValueError, match="NUL"):
        s3.write(prefix + "x", b"", user_metadata={"k": "a\0b"})
    with pytest.raises(sluice.InvalidArgument):  # the library's own check
        s3.write(prefix + "x", b"", user_metadata={"bad name": "v"})
    with pytest.raises(sluice.InvalidArgument):
        s3.write(prefix + "x", b"", user_metadata={"k": "line\nbreak"})
    with pytest.raises(TypeError):
        s3.write(prefix + "x", b"", user_metadata=["k", "v"])
    assert not s3.exists(prefix + "x")
    # Services that cannot keep them refuse the option instead of dropping it.
    with pytest.raises(sluice.InvalidArgument):
        mem.write("x", b"", user_metadata={"k": "v"})
    assert not mem.exists("x")


# ---- os.PathLike ---------------------------------------------------------

class Fspath:
    def __init__(self, value):
        self.value = value

    def __fspath__(self):
        return self.value


def test_pathlike_everywhere(fs, tmp_path, mem):
    for op in (fs, mem):
        p = pathlib.PurePosixPath("d/a.txt")
        op.write(p, b"hello")
        assert op.read(p) == b"hello"
        assert op.stat(p).size == 5
        with op.open(p, "rb") as f:
            assert f.read() == b"hello"
        with op.open(Fspath("d/b.txt"), "wb") as w:
            w.write(b"bee")
        op.copy(p, pathlib.PurePosixPath("d/c.txt"))
        assert sorted(e.path for e in op.list(Fspath("d/"))) == ["d/a.txt", "d/b.txt", "d/c.txt"]
        op.rename(p, Fspath("d/moved"))
        op.delete(Fspath("d/moved"))
        assert not op.exists(p) and not op.exists("d/moved")
        op.remove_all(Fspath("d/"))
    # An fs root given as a Path.
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "f").write_bytes(b"root")
    assert sluice.Operator("fs", root=tmp_path / "r").read("f") == b"root"
    assert sluice.Operator.from_uri(tmp_path / "r" / "f")[1] == str(tmp_path / "r" / "f")[1:]
    src = sluice.Operator("fs", root=tmp_path)
    src.copy_tree(pathlib.PurePosixPath("r"), mem, Fspath("tree"))
    assert mem.read("tree/f") == b"root"


def test_pathlike_s3(s3, prefix):
    base = pathlib.PurePosixPath(prefix)
    s3.write(base / "k", b"v")
    assert s3.read(base / "k") == b"v"
    assert s3.presign("GET", base / "k", 60).startswith("http")


def test_pathlike_bad(mem):
    for bad in (b"bytes", Fspath(b"bytes"), Fspath(5), 3.5, None):
        with pytest.raises(TypeError):
            mem.stat(bad)
    with pytest.raises(ValueError):
        mem.stat(Fspath("a\0b"))
    with pytest.raises(TypeError):
        sluice.Operator("fs", root=Fspath(b"/tmp"))
    with pytest.raises(ValueError):
        sluice.Operator("fs", root=Fspath("/tmp\0x"))


# ---- create_dir on S3 --------------------------------------------------

def test_create_dir_s3(s3, prefix):
    s3.create_dir(prefix + "made/")
    meta = s3.stat(prefix + "made/")
    assert meta.is_dir
    assert s3.exists(prefix + "made/")
    # The marker is the directory, not an object in it.
    assert [e.path for e in s3.list(prefix)] == [prefix + "made/"]
    assert list(s3.list(prefix + "made/")) == []
    assert list(s3.list(prefix, recursive=True)) == []
    s3.create_dir(prefix + "made/")  # again: success
    s3.delete(prefix + "made/")
    assert not s3.exists(prefix + "made/")
    with pytest.raises(sluice.InvalidArgument):
        s3.create_dir(prefix + "nodir")


# ---- write_from from Python file objects, and after write() ------------

class OnlyRead:
    """A binary source with read() and no readinto()."""

    def __init__(self, data):
        self.f = io.BytesIO(data)

    def read(self, n=-1):
        return self.f.read(n)


class Counting(io.RawIOBase):
    """size generated bytes through readinto, recording the largest request."""

    def __init__(self, data):
        self.data, self.pos, self.biggest = data, 0, 0

    def readable(self):
        return True

    def readinto(self, b):
        self.biggest = max(self.biggest, len(b))
        n = min(len(b), len(self.data) - self.pos)
        b[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def test_write_from_file_objects(s3, prefix, tmp_path):
    data = pattern(13 * MiB + 123)  # three parts of 5 MiB on S3
    local = tmp_path / "local.bin"
    local.write_bytes(data)
    with open(local, "rb") as f, s3.open(prefix + "file", "wb", chunk="5MiB") as w:
        w.write_from(f)
        assert w.closed  # write_from commits
    assert s3.read(prefix + "file") == data
    src = Counting(data)
    seen = []
    with s3.open(prefix + "counted", "wb", chunk="5MiB") as w:
        w.write_from(src, progress=seen.append, interval=0.001)
    assert s3.read(prefix + "counted") == data
    assert src.biggest <= sluice._sync.ITER_CHUNK  # never the whole file at once
    assert seen[-1].bytes_read == len(data) and seen[-1].bytes_written == len(data)
    with s3.open(prefix + "bytesio", "wb") as w:
        w.write_from(io.BytesIO(b"small"))
    assert s3.read(prefix + "bytesio") == b"small"
    with s3.open(prefix + "onlyread", "wb") as w:
        w.write_from(OnlyRead(b"read only"))
    assert s3.read(prefix + "onlyread") == b"read only"


def test_write_from_bad_sources(mem, tmp_path):
    (tmp_path / "t.txt").write_text("text")
    with open(tmp_path / "t.txt") as text:
        w = mem.open("x", "wb")
        with pytest.raises(TypeError):
            w.write_from(text)
    assert w.closed and not mem.exists("x")  # aborted
    for bad in (b"bytes", 5, object()):
        with pytest.raises(TypeError):
            mem.open("y", "wb").write_from(bad)
    with pytest.raises(ValueError):
        mem.open("y", "wb").write_from(io.BytesIO(b"x"), readers=0)
    with pytest.raises(ValueError):
        mem.open("y", "wb").write_from(io.BytesIO(b"x"), readers=65)
    with pytest.raises(TypeError):
        mem.open("y", "wb").write_from(io.BytesIO(b"x"), readers="2")
    assert not mem.exists("y")


def test_write_from_source_error_aborts(s3, prefix, uploads):
    class Failing(Counting):
        def readinto(self, b):
            if self.pos >= 7 * MiB:
                raise OSError(errno.EIO, "disk on fire")
            return super().readinto(b)
    w = s3.open(prefix + "failed", "wb", chunk="5MiB")
    with pytest.raises(OSError, match="disk on fire"):
        w.write_from(Failing(pattern(12 * MiB)))
    assert w.closed
    assert not s3.exists(prefix + "failed")
    assert uploads(prefix) == []


@pytest.mark.parametrize("kind", ["file", "sluice"])
def test_write_then_write_from(s3, prefix, kind, tmp_path):
    head, body = b"HEADER:" * 1000, pattern(11 * MiB)
    s3.write(prefix + "body", body)
    (tmp_path / "body").write_bytes(body)
    with s3.open(prefix + "joined", "wb", chunk="5MiB") as w:
        w.write(head)
        assert not w.fresh
        if kind == "file":
            with open(tmp_path / "body", "rb") as f:
                w.write_from(f)
        else:
            with s3.open(prefix + "body", "rb") as r:
                r.read(10)  # what is left is what gets copied
                w.write_from(r)
                body = body[10:]
    assert s3.read(prefix + "joined") == head + body


def test_async_write_from_file_objects(s3_options, prefix, tmp_path, uploads):
    data = pattern(6 * MiB + 5)
    (tmp_path / "f").write_bytes(data)

    async def main():
        op = sluice.AsyncOperator("s3", **s3_options)
        with open(tmp_path / "f", "rb") as f:
            async with await op.open(prefix + "a", "wb", chunk="5MiB") as w:
                await w.write(b"head")
                seen = []
                await w.write_from(f, progress=seen.append, interval=0.001)
        assert await op.read(prefix + "a") == b"head" + data
        assert seen[-1].bytes_written == len(data)
        async with await op.open(prefix + "b", "wb") as w:
            await w.write_from(io.BytesIO(b"bytesio"))
        assert await op.read(prefix + "b") == b"bytesio"

        # Cancelled mid-copy: stopped, aborted, nothing left.
        gate = threading.Event()

        class Slow(Counting):
            def readinto(self, b):
                gate.set()
                return super().readinto(b)
        w = await op.open(prefix + "c", "wb", chunk="5MiB")
        task = asyncio.ensure_future(w.write_from(Slow(pattern(64 * MiB))))
        while not gate.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert w.closed
        with pytest.raises(sluice.NotFound):
            await op.stat(prefix + "c")
    asyncio.run(asyncio.wait_for(main(), HANG))
    assert uploads(prefix) == []


# ---- docstrings and stubs --------------------------------------------

def test_async_methods_documented():
    for name in dir(sluice.AsyncOperator):
        attr = getattr(sluice.AsyncOperator, name)
        if not name.startswith("_") and callable(attr):
            assert attr.__doc__, "AsyncOperator.%s has no docstring" % name


def test_option_names_in_docstrings():
    assert "concurrent" in sluice.Operator.open.__doc__
    assert "if_not_exists" in sluice.Operator.write.__doc__
    assert "secret_access_key" in sluice.Operator.__doc__
    assert "transfers" in sluice.AsyncOperator.copy_tree.__doc__
    assert "8 MiB" in sluice.AsyncOperator.write.__doc__

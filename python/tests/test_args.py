# SPDX-License-Identifier: MIT
"""Bad arguments raise TypeError or ValueError (InvalidArgument and
ConfigInvalid are ValueErrors), never crash the interpreter."""
import pytest

import sluice


@pytest.fixture
def mem():
    op = sluice.Operator("memory")
    op.write("obj", b"0123456789")
    return op


BAD = [
    (TypeError, lambda op: sluice.Operator(3)),
    (TypeError, lambda op: sluice.Operator()),
    (TypeError, lambda op: sluice.Operator("fs", root=1.5)),
    (TypeError, lambda op: sluice.Operator("fs", root=b"/tmp")),
    (ValueError, lambda op: sluice.Operator("fs", root="/tmp\0x")),
    (ValueError, lambda op: sluice.Operator("fs")),
    (ValueError, lambda op: sluice.Operator("fs", rooot="/tmp")),
    (ValueError, lambda op: sluice.Operator("memory", chunk=-1)),
    (TypeError, lambda op: sluice.Operator.from_uri(None)),
    (TypeError, lambda op: op.stat(None)),
    (TypeError, lambda op: op.stat(b"obj")),
    (ValueError, lambda op: op.stat("o\0bj")),
    (TypeError, lambda op: op.write("x", "a str is not bytes")),
    (TypeError, lambda op: op.write("x", 12)),
    (TypeError, lambda op: op.write("x")),
    (ValueError, lambda op: op.read("obj", -1)),
    (ValueError, lambda op: op.read("obj", 0, -5)),
    (TypeError, lambda op: op.read("obj", "0")),
    (ValueError, lambda op: op.write("x", b"", concurrent=0)),
    (ValueError, lambda op: op.write("x", b"", chunk="12 parsecs")),
    (ValueError, lambda op: op.write("x", b"", no_such_option=True)),
    (TypeError, lambda op: op.write("x", b"", chunk=[1])),
    (ValueError, lambda op: op.presign("GET", "obj", -1)),
    (TypeError, lambda op: op.presign("GET", "obj", "soon")),
    (ValueError, lambda op: op.open("obj", "ab")),
    (TypeError, lambda op: op.open("obj", 5)),
    (TypeError, lambda op: op.open("obj", "rb").readinto(b"immutable")),
    (TypeError, lambda op: op.open("obj", "rb").read("ten")),
    (TypeError, lambda op: op.list(5)),
    (TypeError, lambda op: op.list("", True)),
    (TypeError, lambda op: sluice.File("not an operator", "obj")),
    (TypeError, lambda op: sluice.Writer(None, "obj")),
    (TypeError, lambda op: op.open("x", "wb").write_from(b"bytes are not a reader")),
    (TypeError, lambda op: op.open("x", "wb").write_from(op.open("obj"), progress="no")),
    (ValueError, lambda op: op.open("x", "wb").write_from(op.open("obj"), interval=0)),
    (ValueError, lambda op: op.open("x", "wb").write_from(op.open("obj"), readers=0)),
    (ValueError, lambda op: sluice.Operator.__new__(sluice.Operator).stat("x")),
]


@pytest.mark.parametrize("exc,call", BAD, ids=range(len(BAD)))
def test_bad_argument(mem, exc, call):
    with pytest.raises(exc):
        call(mem)


def test_closed_handles(mem):
    f = mem.open("obj", "rb")
    f.close()
    f.close()  # idempotent
    with pytest.raises(ValueError):
        f.read(1)
    with pytest.raises(ValueError):
        f.readinto(bytearray(4))
    w = mem.open("x", "wb")
    w.write(b"abc")
    w.close()
    w.close()  # idempotent
    with pytest.raises(ValueError):
        w.write(b"more")
    with pytest.raises(ValueError):
        w.write_from(mem.open("obj"))  # not a fresh writer
    assert mem.read("x") == b"abc"
    w = mem.open("y", "wb")
    w.abort()
    with pytest.raises(ValueError):
        w.write(b"late")
    with pytest.raises(sluice.NotFound):
        mem.stat("y")


def test_readinto_and_write_take_any_buffer(mem):
    import array
    mem.write("a", array.array("I", [1, 2, 3]))
    assert mem.read("a") == array.array("I", [1, 2, 3]).tobytes()
    buf = memoryview(bytearray(20))
    with mem.open("obj") as f:
        assert f.readinto(buf[5:15]) == 10
    assert bytes(buf[5:15]) == b"0123456789"
    with pytest.raises((TypeError, BufferError, ValueError)):
        mem.write("b", memoryview(bytes(16))[::2])  # not contiguous


@pytest.mark.asyncio
async def test_async_bad_arguments():
    op = sluice.AsyncOperator("memory")
    with pytest.raises(ValueError):
        await op.open("x", "xb")
    with pytest.raises(TypeError):
        await op.write("x", "str")
    w = await op.open("x", "wb")
    with pytest.raises(TypeError):
        await w.write_from("not a reader")
    with pytest.raises(ValueError):
        await op.open("x", "wb", concurrent=0)
    await w.abort()

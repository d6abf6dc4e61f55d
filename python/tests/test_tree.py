# SPDX-License-Identifier: MIT
"""Tree jobs from Python: copy_tree and sync, blocking and async, against
local files and the S3 server; failures reported per object; a cancelled
task leaves no multipart upload behind."""
import asyncio
import os

import pytest

import sluice
from conftest import HANG

MiB = 1024 * 1024


def make_tree(root, n, size=1000):
    """n files under root/src (some in subdirectories); {relative path: bytes}."""
    files = {}
    for i in range(n):
        rel = "d%d/f%03d" % (i % 3, i) if i % 2 else "f%03d" % i
        data = bytes([i % 256]) * size + os.urandom(16)
        path = root / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = data
    return files


def test_copy_tree_then_sync_fs_to_s3(tmp_path, s3, prefix):
    files = make_tree(tmp_path, 40)
    fs = sluice.Operator("fs", root=str(tmp_path))
    seen = []
    p = fs.copy_tree("src", s3, prefix + "t", transfers=4, progress=seen.append, interval=0.01)
    assert (p.objects_done, p.objects_failed, p.objects_total) == (40, 0, 40)
    assert p.bytes_written == sum(len(d) for d in files.values())
    assert seen and seen[-1].objects_done == 40
    for rel, data in files.items():
        assert s3.read(prefix + "t/" + rel) == data

    # Nothing changed: everything is skipped.
    p = fs.sync("src", s3, prefix + "t", compare="size")
    assert (p.objects_done, p.objects_skipped) == (0, 40)

    # One file changed, one removed: sync copies one and deletes one.
    (tmp_path / "src" / "f000").write_bytes(b"changed, and of another size")
    os.unlink(tmp_path / "src" / "f002")
    # A dry run first: it lists the copy and the deletion and does neither.
    plan = []
    p = fs.sync("src", s3, prefix + "t", compare="size", delete=True, dry_run=True, plan=plan)
    assert (p.objects_would_copy, p.objects_would_delete, p.objects_done, p.objects_deleted) == \
        (1, 1, 0, 0)
    assert sorted(plan) == [("copy", "f000", 28), ("delete", "f002", len(files["f002"]))]
    p = fs.sync("src", s3, prefix + "t", compare="size", delete=True)
    assert (p.objects_done, p.objects_deleted, p.objects_skipped) == (1, 1, 38)
    assert s3.read(prefix + "t/f000") == b"changed, and of another size"
    with pytest.raises(sluice.NotFound):
        s3.stat(prefix + "t/f002")


def test_copy_tree_s3_to_fs_and_dry_run(tmp_path, s3, prefix):
    for i in range(5):
        s3.write(prefix + "src/k%d" % i, b"x" * (i + 1))
    out = sluice.Operator("fs", root=str(tmp_path))
    plan = []
    p = s3.copy_tree(prefix + "src", out, "dry", dry_run=True, plan=plan)
    assert (p.objects_done, p.objects_would_copy, p.bytes_written) == (0, 5, 0)
    assert sorted(plan) == [("copy", "k%d" % i, i + 1) for i in range(5)]
    with pytest.raises(TypeError):
        s3.copy_tree(prefix + "src", out, "dry", dry_run=True, plan=())
    assert not (tmp_path / "dry").exists()
    p = s3.copy_tree(prefix + "src", out, "got", include="k[0-2]")
    assert p.objects_done == 3
    assert sorted(os.listdir(tmp_path / "got")) == ["k0", "k1", "k2"]
    assert (tmp_path / "got" / "k2").read_bytes() == b"xxx"


def test_failed_objects_raise_partial_with_each_failure(tmp_path):
    mem = sluice.Operator("memory")
    mem.write("src/good", b"1")
    mem.write("src/a/../bad", b"2")  # a key no file system can hold as given
    out = sluice.Operator("fs", root=str(tmp_path))
    with pytest.raises(sluice.Partial) as info:
        mem.copy_tree("src", out, "dst")
    e = info.value
    assert e.kind == "partial"
    assert [path for path, _ in e.failures] == ["a/../bad"]
    path, err = e.failures[0]
    assert isinstance(err, sluice.InvalidArgument) and "a/../bad" in str(err)
    assert (tmp_path / "dst" / "good").read_bytes() == b"1"

    # fail_fast: the first failure ends the job with its own error.
    with pytest.raises(sluice.InvalidArgument):
        mem.copy_tree("src", out, "dst2", fail_fast=True)


def test_bad_arguments():
    mem = sluice.Operator("memory")
    with pytest.raises(sluice.InvalidArgument, match="bogus"):
        mem.copy_tree("", mem, "x", bogus=1)
    with pytest.raises(TypeError):
        mem.start_tree("", "not an operator", "x")
    with pytest.raises(TypeError):
        mem.copy_tree("", mem, "x", progress=3)
    with pytest.raises(ValueError):
        mem.copy_tree("", mem, "x", interval=0)


@pytest.mark.asyncio
async def test_async_copy_tree_and_sync(tmp_path, s3, s3_options, prefix):
    files = make_tree(tmp_path, 12)
    src = sluice.AsyncOperator("fs", root=str(tmp_path))
    dst = sluice.AsyncOperator("s3", **s3_options)
    p = await asyncio.wait_for(src.copy_tree("src", dst, prefix + "a", transfers=3), HANG)
    assert p.objects_done == 12
    p = await asyncio.wait_for(src.sync("src", dst, prefix + "a", compare="size"), HANG)
    assert p.objects_skipped == 12
    plan = []
    p = await asyncio.wait_for(src.copy_tree("src", dst, prefix + "b", dry_run=True, plan=plan),
                               HANG)
    assert (p.objects_would_copy, p.objects_done, len(plan)) == (12, 0, 12)
    assert all(action == "copy" for action, _, _ in plan)
    assert await dst.read(prefix + "a/f000") == files["f000"]


@pytest.mark.asyncio
async def test_cancelled_task_stops_the_tree_and_leaves_no_upload(tmp_path, s3, s3_options,
                                                                  prefix, uploads):
    # Multipart objects (two 5 MiB parts each) slowed down by bwlimit, so
    # the task is cancelled with uploads in flight.
    for i in range(6):
        (tmp_path / "big").mkdir(exist_ok=True)
        (tmp_path / "big" / ("b%d" % i)).write_bytes(os.urandom(11 * MiB))
    src = sluice.AsyncOperator("fs", root=str(tmp_path))
    dst = sluice.AsyncOperator("s3", **s3_options)
    task = asyncio.ensure_future(src.copy_tree("big", dst, prefix + "big", chunk=5 * MiB,
                                               transfers=2, bwlimit=4 * MiB))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, HANG)
    assert uploads(prefix) == []
    # Cancelled mid-way (66 MiB at 4 MiB/s): objects already finished stay.
    assert len([e for e in s3.list(prefix + "big/") if not e.metadata.is_dir]) < 6

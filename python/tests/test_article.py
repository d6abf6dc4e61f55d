# SPDX-License-Identifier: MIT
"""The article's example, verbatim apart from the module name, and the
writer options it names."""
import asyncio
import math

import pytest

import sluice
from conftest import HANG, make_file

MiB = 1024 * 1024


def test_article_example_fs_to_s3(tmp_path, s3, s3_options, prefix, uploads):
    data = make_file(tmp_path / "large_file.dat", 23 * MiB + 12345)
    options = dict(s3_options, root=prefix)
    options.pop("bucket")

    async def main():
        src  = sluice.AsyncOperator("fs", root=str(tmp_path))
        dest = sluice.AsyncOperator("s3", bucket=s3_options["bucket"], **options)
        async with (await src.open("large_file.dat", "rb") as reader,
                    await dest.open("backup.dat", "wb") as writer):
            await writer.write_from(reader)

    asyncio.run(asyncio.wait_for(main(), HANG))
    assert s3.read(prefix + "backup.dat") == data
    assert uploads(prefix) == []


@pytest.mark.parametrize("concurrent", [1, 3])
def test_chunk_and_concurrent_are_honoured(tmp_path, s3, s3_options, prefix, concurrent):
    size = 17 * MiB + 3
    data = make_file(tmp_path / "src.dat", size)
    seen = []

    async def main():
        src = sluice.AsyncOperator("fs", root=str(tmp_path))
        dest = sluice.AsyncOperator("s3", **s3_options)
        async with (await src.open("src.dat", "rb") as reader,
                    await dest.open(prefix + "dst.dat", "wb", chunk=5 * MiB,
                                    concurrent=concurrent) as writer):
            await writer.write_from(reader, progress=seen.append, interval=0.01)

    asyncio.run(asyncio.wait_for(main(), HANG))
    assert s3.read(prefix + "dst.dat") == data
    # The server's multipart ETag ends in "-<number of parts>".
    etag = s3.stat(prefix + "dst.dat").etag.strip('"')
    assert etag.endswith("-%d" % math.ceil(size / (5 * MiB))), etag
    assert seen and seen[-1].bytes_written == size and seen[-1].total_bytes == size
    assert max(p.parts_in_flight for p in seen) <= concurrent

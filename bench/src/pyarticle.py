# SPDX-License-Identifier: MIT
"""The article's experiment in Python: one local file uploaded to S3 by
  write_from  await writer.write_from(reader)      (the C pipeline does it all)
  loop        a chunk read, then awaited write   (Python in the data path)
  boto3       boto3's upload_fileobj             (Debian's python3-boto3)
with the same part size and parts in flight.  Run by bench/run (section
python) under /usr/bin/time, which measures it:

  pyarticle.py MODE ENDPOINT BUCKET KEY FILE CHUNK_MIB CONCURRENT

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
import asyncio
import os
import sys

MiB = 1024 * 1024


def sluice_ops(endpoint, bucket, directory):
    import sluice
    s3 = sluice.AsyncOperator("s3", bucket=bucket, endpoint=endpoint, region="us-east-1",
                              access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                              secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])
    return sluice.AsyncOperator("fs", root=directory), s3


async def upload(mode, endpoint, bucket, key, path, chunk, concurrent):
    directory, name = os.path.split(os.path.abspath(path))
    src, dest = sluice_ops(endpoint, bucket, directory)
    async with (await src.open(name, "rb") as reader,
                await dest.open(key, "wb", chunk=chunk, concurrent=concurrent) as writer):
        if mode == "write_from":
            await writer.write_from(reader)
        else:
            # The loop the article measured: read a chunk, await its write.
            while True:
                data = await reader.read(chunk)
                if not data:
                    break
                await writer.write(data)


def upload_boto3(endpoint, bucket, key, path, chunk, concurrent):
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}))
    cfg = TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk,
                         max_concurrency=concurrent, use_threads=True)
    with open(path, "rb") as f:
        s3.upload_fileobj(f, bucket, key, Config=cfg)


def main(argv):
    if len(argv) != 8 or argv[1] not in ("write_from", "loop", "boto3"):
        sys.exit(__doc__)
    mode, endpoint, bucket, key, path = argv[1:6]
    chunk, concurrent = int(argv[6]) * MiB, int(argv[7])
    if mode == "boto3":
        upload_boto3(endpoint, bucket, key, path, chunk, concurrent)
    else:
        asyncio.run(upload(mode, endpoint, bucket, key, path, chunk, concurrent))


if __name__ == "__main__":
    main(sys.argv)

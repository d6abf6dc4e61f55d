# SPDX-License-Identifier: MIT
"""Fixtures for the binding's tests.  The S3 tests run against the server
tests/check-python.sh starts (Swift with s3api on loopback: SLUICE_S3_*)
and skip without it; SLUICE_S3_UPLOADS names the tests/s3_uploads program
that lists multipart uploads in progress on that server."""
import os
import subprocess
import uuid

import pytest

import sluice

# Generous bounds for hangs only (never for speed); scaled under sanitizers.
HANG = 300 * (4 if os.environ.get("SLUICE_SANITIZED") == "1" else 1)


@pytest.fixture
def s3_options():
    if not os.environ.get("SLUICE_S3_ENDPOINT"):
        pytest.skip("no S3 server: run through tests/check-python.sh")
    os.environ.pop("AWS_PROFILE", None)
    return dict(bucket=os.environ["SLUICE_S3_BUCKET"],
                endpoint=os.environ["SLUICE_S3_ENDPOINT"],
                region=os.environ["SLUICE_S3_REGION"],
                access_key_id=os.environ["SLUICE_S3_ACCESS_KEY"],
                secret_access_key=os.environ["SLUICE_S3_SECRET_KEY"])


@pytest.fixture
def prefix(request):
    """A key prefix of this test's own, removed afterwards on S3."""
    return "py-%s-%s/" % (request.node.name[:40].replace("[", "-").replace("]", ""),
                          uuid.uuid4().hex[:8])


@pytest.fixture
def s3(s3_options, prefix):
    op = sluice.Operator("s3", **s3_options)
    yield op
    op.remove_all(prefix)


@pytest.fixture
def uploads():
    """uploads(prefix) -> multipart uploads in progress under prefix."""
    prog = os.environ.get("SLUICE_S3_UPLOADS")
    if not prog or not os.access(prog, os.X_OK):
        pytest.skip("SLUICE_S3_UPLOADS (the tests/s3_uploads program) is not set")

    def run(prefix):
        out = subprocess.run([prog, prefix], check=True, capture_output=True, text=True,
                             timeout=HANG).stdout
        return out.splitlines()
    return run


@pytest.fixture
def fs(tmp_path):
    return sluice.Operator("fs", root=str(tmp_path))


def make_file(path, size):
    """A file of size pseudo-random bytes (distinct per position), returned."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        left = size
        n = 0
        while left:
            piece = block[: min(left, len(block))]
            f.write(n.to_bytes(8, "little") + piece[8:] if len(piece) > 8 else piece)
            left -= len(piece)
            n += 1
    with open(path, "rb") as f:
        return f.read()

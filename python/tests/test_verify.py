# SPDX-License-Identifier: MIT
"""Downloads from a store that keeps no CRC (Swift, as MinIO or Ceph) are
checked against the ETag: a byte flipped on the way fails the read
(issue 22).  tests/servers/checksum-proxy.py --plain flips it."""
import os
import subprocess
import sys
import time

import pytest

import sluice
from conftest import HANG


@pytest.fixture
def flipping(s3_options, tmp_path):
    """flipping(match) -> an Operator whose first GET matching is flipped."""
    servers = os.environ.get("SLUICE_TESTS_SERVERS")
    if not servers:
        pytest.skip("SLUICE_TESTS_SERVERS is not set: run through tests/check-python.sh")
    procs = []

    def start(match):
        port_file = tmp_path / ("port%d" % len(procs))
        target = s3_options["endpoint"].split("://", 1)[1]
        procs.append(subprocess.Popen(
            ["/usr/bin/python3", os.path.join(servers, "checksum-proxy.py"), "--plain",
             "--corrupt-download", "--match", match, "--target", target,
             "--port-file", str(port_file), "--max-seconds", str(HANG)]))
        deadline = time.monotonic() + HANG
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline, "the flipping proxy did not start"
            time.sleep(0.05)
        endpoint = "http://127.0.0.1:%s" % port_file.read_text().strip()
        return sluice.Operator("s3", **dict(s3_options, endpoint=endpoint))
    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=HANG)


def test_a_flipped_byte_fails_a_read(s3, prefix, flipping):
    data = os.urandom(12 << 20)
    s3.write(prefix + "m.bin", data, chunk="5MiB")
    op = flipping("^GET .*m.bin")
    with op.open(prefix + "m.bin", "rb", concurrent=4, chunk="1MiB") as r:
        with pytest.raises(sluice.IOFailure, match="does not match the object's ETag"):
            while r.read(1 << 20):
                pass
    with op.open(prefix + "m.bin", "rb", concurrent=4, chunk="1MiB") as r:
        assert r.read() == data  # the fault is spent


def test_an_object_read_in_one_request_is_fetched_again(s3, prefix, flipping):
    data = os.urandom(100000)
    s3.write(prefix + "small.bin", data)
    assert flipping("^GET .*small.bin").read(prefix + "small.bin") == data


def test_a_flipped_byte_fails_write_from_and_leaves_no_file(s3, prefix, flipping, fs, tmp_path):
    data = os.urandom(3 << 20)
    s3.write(prefix + "one.bin", data)
    op = flipping("^GET .*one.bin")
    with op.open(prefix + "one.bin", "rb") as r:
        w = fs.open("copy.bin", "wb", chunk="1MiB")
        with pytest.raises(sluice.IOFailure, match="ETag"):
            w.write_from(r, readers=4)
        w.abort()
    assert not (tmp_path / "copy.bin").exists()

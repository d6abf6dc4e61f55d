# SPDX-License-Identifier: MIT
"""An operator's root is a key prefix: a listing that returns keys outside
it (tests/servers/hostile-list.py, bucket "outside") is refused, never cut
down to paths that look inside it (issue 22)."""
import os
import subprocess
import time

import pytest

import sluice
from conftest import HANG


@pytest.fixture
def hostile(tmp_path):
    servers = os.environ.get("SLUICE_TESTS_SERVERS")
    if not servers:
        pytest.skip("SLUICE_TESTS_SERVERS is not set: run through tests/check-python.sh")
    port_file = tmp_path / "port"
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(servers, "hostile-list.py"),
                             "--port-file", str(port_file), "--max-seconds", str(HANG)])
    deadline = time.monotonic() + HANG
    while not port_file.exists() or not port_file.read_text().strip():
        assert time.monotonic() < deadline, "the hostile server did not start"
        time.sleep(0.05)
    yield "http://127.0.0.1:%s" % port_file.read_text().strip()
    proc.terminate()
    proc.wait(timeout=HANG)


def test_keys_outside_the_root_refuse_the_listing(hostile):
    op = sluice.Operator("s3", bucket="outside", root="sub/", endpoint=hostile,
                         region="us-east-1", anonymous=True)
    with pytest.raises(sluice.Unexpected, match="not under it"):
        list(op.list("", recursive=True))

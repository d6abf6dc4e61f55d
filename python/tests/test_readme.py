# SPDX-License-Identifier: MIT
"""The first example of python/README.md runs as printed, with only the
directory and the S3 settings pointed at the test server."""
import os
import re

import sluice  # noqa: F401  (the example imports it itself)
from conftest import make_file

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")


def test_readme_example_runs(tmp_path, s3, s3_options, prefix):
    with open(README) as f:
        code = re.search(r"```python\n(.*?)```", f.read(), re.S).group(1)
    assert 'sluice.AsyncOperator("fs", root="/tmp")' in code
    assert 'bucket="my-bucket", region="eu-west-1"' in code
    settings = ", ".join("%s=%r" % kv for kv in dict(s3_options, root=prefix).items())
    code = (code.replace('root="/tmp"', "root=%r" % str(tmp_path))
                .replace('bucket="my-bucket", region="eu-west-1"', settings))
    data = make_file(tmp_path / "large_file.dat", 11 * 1024 * 1024 + 5)
    exec(compile(code, README, "exec"), {"__name__": "readme"})
    assert s3.read(prefix + "backup.dat") == data

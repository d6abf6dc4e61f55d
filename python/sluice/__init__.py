# SPDX-License-Identifier: MIT
"""sluice: stream data between storage services with bounded memory.

Python binding of libsluice, in the idiom of Apache OpenDAL's Python
binding::

    src  = sluice.AsyncOperator("fs", root="/tmp")
    dest = sluice.AsyncOperator("s3", bucket="my-bucket", ...)
    async with (await src.open("large_file.dat", "rb") as reader,
                await dest.open("backup.dat", "wb") as writer):
        await writer.write_from(reader)

``write_from`` runs in libsluice's C pipeline (reader threads, a bounded
ring, concurrent part uploads); Python is not in the data path.
"""
from ._sluice import (AlreadyExists, Canceled, ConditionNotMatch, ConfigInvalid, Entry, Error,
                      IOFailure, InvalidArgument, IsADirectory, Metadata, NetworkError, NotFound,
                      OutOfMemory, Partial, PermissionDenied, Progress, RangeNotSatisfiable,
                      RateLimited, Rejected, Timeout, TreeJob, Unexpected, Unsupported, library_version)
from ._sync import File, Operator, PresignedRequest, Writer
from ._async import AsyncCopy, AsyncFile, AsyncOperator, AsyncWriter

__version__ = "0.1.0"

__all__ = [
    "Operator", "AsyncOperator", "File", "Writer", "AsyncFile", "AsyncWriter", "AsyncCopy",
    "Metadata", "Entry", "Progress", "PresignedRequest", "TreeJob", "library_version",
    "Error", "NotFound", "PermissionDenied", "AlreadyExists", "IsADirectory", "InvalidArgument",
    "ConfigInvalid", "Unsupported", "RateLimited", "ConditionNotMatch", "RangeNotSatisfiable",
    "IOFailure", "NetworkError", "Timeout", "Canceled", "OutOfMemory", "Unexpected",
    "Partial", "Rejected",
]

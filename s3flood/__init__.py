"""s3flood: upload a directory tree to S3 fast, and account for every file."""

from s3flood._api import upload_directory
from s3flood._errors import DestinationError, S3FloodError, SourceError, UploadFailedError
from s3flood._events import ProgressEvent
from s3flood._report import FailedUpload, UploadReport
from s3flood._version import __version__

__all__ = [
    "DestinationError",
    "FailedUpload",
    "ProgressEvent",
    "S3FloodError",
    "SourceError",
    "UploadFailedError",
    "UploadReport",
    "__version__",
    "upload_directory",
]

"""``python -m s3flood`` is the ``s3flood`` command."""

from s3flood.cli import main

main()

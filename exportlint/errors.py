"""Errors that end a run with a one-line message and exit code 2."""


class UsageError(Exception):
    """Bad command line, missing file, unusable model or input: reported in one line, exit 2."""

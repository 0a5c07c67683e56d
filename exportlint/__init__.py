"""exportlint: find what will not convert before you convert it."""

__version__ = "0.1.0"

"""akhbar: raw Arabic news text to clean, classified, typed Parquet datasets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("akhbar")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

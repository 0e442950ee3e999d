"""Sargs: a published privacy policy turned into a running system."""

from importlib.metadata import PackageNotFoundError, version

try:  # the one place the version is written is pyproject.toml; installed metadata carries it
    __version__ = version("sargs")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

"""Sargs: a published privacy policy turned into a running system."""

__version__ = "0.1.0"

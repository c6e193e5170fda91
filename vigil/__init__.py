"""Vigil: a Trust & Safety incident lifecycle on Temporal."""

__version__ = "0.1.0"

"""The package version (one place; the root package and every provenance record read it)."""

__version__ = "0.1.0"

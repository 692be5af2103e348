"""Compatibility with the published package's module layout (``core.engine``)."""

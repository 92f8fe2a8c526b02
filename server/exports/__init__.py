"""Exports: an accepted task's label document in the formats other tools read.

Pure writers (bytes in memory, no disk, no database): the caller decides where
the bytes go, so a sensitive transcript is never left behind in a temp file.
"""

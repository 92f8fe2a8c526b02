"""Signed Cordon updates: a TUF repository the server keeps and serves.

:mod:`server.updates.keys` holds the role keys (root and targets offline with IT,
snapshot and timestamp online in the data directory), :mod:`server.updates.repository`
writes and re-signs the metadata, :mod:`server.updates.resign` keeps the online
roles fresh while the server runs.
"""

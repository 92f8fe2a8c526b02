"""Cordon's minimal on-prem server: FastAPI over TLS 1.3, SQLite, encrypted blobs.

Imports nothing from the client except the shared Qt-free format modules
(``app.crypto``, ``app.wire``), so the segment format has one implementation.
"""

__version__ = "0.1.0"

"""How long a client may take, and how many connections it may hold (see connection_guard)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionLimits:
    #: Seconds for the TLS handshake, and for a request's headers (absolute, not idle).
    read_timeout: float = 10.0
    #: Seconds for a request's body once its headers are in.
    body_timeout: float = 30.0
    #: Connections open at once; a further one is closed after its handshake.
    max_connections: int = 512

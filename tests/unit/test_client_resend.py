"""A kept-alive connection closed by the server as a request goes out on it.

A TLS peer on 127.0.0.1 (certificates from Cordon's own PKI code) answers or
drops each request as the test says: dropping reads the request and closes the
connection without a byte of answer, which is what a workstation sees when its
request crosses the server's idle timeout. The peer records every request it
read: on which connection, and its ``Idempotency-Key`` and proof's ``jti``.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import jwt
import pytest

from app.api import errors
from app.api.client import CordonApi
from app.crypto.dpop import PROOF_HEADER, DPoPKey
from app.wire.schemas import EventBatchIn
from server.pki import create_ca, issue_server_cert

_ACK = {"accepted": 1, "duplicates": 0, "logs": []}
_HEALTH = {"status": "ok", "version": "test"}


@dataclass
class Seen:
    connection: int
    method: str
    idempotency_key: str | None
    jti: str


class Peer:
    """Answers (``"answer"``) or drops (``"drop"``) the requests in order."""

    def __init__(self, tmp_path: Path, script: list[str]) -> None:
        ca, ca_key = tmp_path / "ca.pem", tmp_path / "ca.key"
        create_ca(ca, ca_key)
        cert, key = tmp_path / "server.pem", tmp_path / "server.key"
        issue_server_cert(ca, ca_key, cert, key, ["127.0.0.1"])
        self.ca = ca
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.minimum_version = ssl.TLSVersion.TLSv1_3
        self._tls.load_cert_chain(cert, key)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(10)
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        self._script = list(script)
        self.seen: list[Seen] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection = 0
        while self._script:
            try:
                raw, _addr = self._listener.accept()
            except OSError:
                return
            connection += 1
            with self._tls.wrap_socket(raw, server_side=True) as tls, tls.makefile("rb") as reader:
                tls.settimeout(10)
                while self._script:
                    seen = _read_request(reader, connection)
                    if seen is None:
                        break  # the client closed this connection
                    self.seen.append(seen)
                    if self._script.pop(0) == "drop":
                        break  # no answer at all: the connection just closes
                    answer = json.dumps(_HEALTH if seen.method == "GET" else _ACK).encode()
                    tls.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                        + answer
                    )

    def close(self) -> None:
        self._listener.close()
        self._thread.join(10)


def _read_request(reader: BinaryIO, connection: int) -> Seen | None:
    request_line = reader.readline()
    if not request_line:
        return None
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    reader.read(int(headers.get("content-length", "0")))
    proof = headers[PROOF_HEADER.lower()]
    jti = str(jwt.decode(proof, options={"verify_signature": False})["jti"])
    return Seen(connection, request_line.split()[0].decode(), headers.get("idempotency-key"), jti)


@pytest.fixture
def peer_for(tmp_path: Path) -> Iterator[Callable[[list[str]], Peer]]:
    made: list[Peer] = []

    def make(script: list[str]) -> Peer:
        made.append(Peer(tmp_path, script))
        return made[-1]

    yield make
    for peer in made:
        peer.close()


def _api(peer: Peer) -> CordonApi:
    api = CordonApi(peer.url, peer.ca, timeout=(5.0, 10.0))
    api.set_token("t")
    api.set_proof_key(DPoPKey.generate())
    return api


def _batch() -> EventBatchIn:
    return EventBatchIn.model_validate(
        {
            "events": [
                {
                    "event_id": str(uuid.uuid4()),
                    "action": "capture_attempt",
                    "seq": 1,
                    "client_time": 0.0,
                }
            ]
        }
    )


def test_events_dropped_on_a_kept_alive_connection_are_sent_again_on_a_new_one(
    peer_for: Callable[[list[str]], Peer],
) -> None:
    peer = peer_for(["answer", "drop", "answer"])
    api = _api(peer)
    assert api.health().status == "ok"  # the connection is now kept alive
    ack = api.post_events(_batch(), idempotency_key="ws-1")
    assert ack.accepted == 1
    assert [(s.connection, s.method, s.idempotency_key) for s in peer.seen] == [
        (1, "GET", None), (1, "POST", "ws-1"), (2, "POST", "ws-1"),
    ]  # fmt: skip
    assert peer.seen[1].jti != peer.seen[2].jti  # a new proof: the first may have been seen
    api.close()


def test_a_write_without_an_idempotency_key_is_not_sent_twice(
    peer_for: Callable[[list[str]], Peer],
) -> None:
    peer = peer_for(["answer", "drop"])
    api = _api(peer)
    api.health()
    with pytest.raises(errors.NetworkError):
        api.post_events(_batch())  # the server may have acted on it: not repeated
    assert [(s.connection, s.method) for s in peer.seen] == [(1, "GET"), (1, "POST")]
    api.close()


def test_a_read_is_sent_again_once_and_a_second_drop_is_a_network_error(
    peer_for: Callable[[list[str]], Peer],
) -> None:
    peer = peer_for(["answer", "drop", "answer", "drop", "drop"])
    api = _api(peer)
    api.health()
    assert api.health().status == "ok"  # dropped on connection 1, answered on 2
    with pytest.raises(errors.NetworkError):
        api.health()  # dropped on connection 2, then on 3: not a third time
    assert [s.connection for s in peer.seen] == [1, 1, 2, 2, 3]
    api.close()

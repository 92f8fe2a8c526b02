"""``Idempotency-Key``: a retried request gets the first answer, not a second effect.

The client's outbox retries a batch whenever it did not see the answer (a dead
network, a killed server). Event ids and label ids already make the *effect*
idempotent; the key also makes the *answer* identical, so the client can tell
"stored by my earlier attempt" from "stored now". A label submission claims its
key first, in the request's own transaction, which takes the write lock: two
racing copies of one request serialise, and a request that fails rolls its key
back with it (a retry then runs again). An event batch looks its key up before
the lock and inserts the answer with its effect (:func:`used`,
:func:`remember_new`; ADR 0014): the key's primary key refuses a second use that
slipped in between, and the group runs again. Reusing a key for a different
request is a client bug and gets 422.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Collection, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, insert, select, tuple_, update

from app.wire.schemas import ErrorCode
from server import dialect
from server.api.errors import ApiError
from server.db import idempotency_keys

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


def check_key(key: str | None) -> str | None:
    """The header's value, or 422 if it is not a sensible key."""
    if key is not None and not KEY_PATTERN.fullmatch(key):
        raise ApiError(
            422, ErrorCode.INVALID_REQUEST, "Idempotency-Key must be 8-128 of [A-Za-z0-9_.:-]"
        )
    return key


def request_hash(endpoint: str, body: BaseModel) -> bytes:
    return hashlib.sha256(endpoint.encode() + b"\x00" + body.model_dump_json().encode()).digest()


def claim(conn: Connection, user_id: str, key: str, endpoint: str, digest: bytes) -> str | None:
    """Claim ``key`` for this request; return the stored answer if it was already used."""
    inserted = conn.execute(
        dialect.insert(conn, idempotency_keys)
        .values(
            user_id=user_id,
            key=key,
            endpoint=endpoint,
            request_hash=digest,
            response=None,
            created_at=int(time.time()),
        )
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)  # rowcount of an upsert is not portable
    ).scalar()
    if inserted is not None:
        return None
    row = conn.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key
        )
    ).one()
    return replay(row, endpoint, digest)


def replay(row: Any, endpoint: str, digest: bytes) -> str:
    """The answer stored under a used key, if this is the same request; else 422."""
    same = row.endpoint == endpoint and hmac.compare_digest(bytes(row.request_hash), digest)
    if not same or row.response is None:
        raise reused()
    return str(row.response)


def reused() -> ApiError:
    """422: the key was used for another request (a client bug)."""
    return ApiError(
        422, ErrorCode.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used for another request"
    )


def used(conn: Connection, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The rows of those ``(user_id, key)`` pairs already used (a group's, in one query).

    Exact if the caller holds the write lock (none can be claimed meanwhile); without
    it, a key found unused may be claimed before the caller's insert, which the key's
    primary key then refuses (the ingest path's reads rely on that and retry).
    """
    if not keys:
        return {}
    rows = conn.execute(
        select(idempotency_keys).where(
            tuple_(idempotency_keys.c.user_id, idempotency_keys.c.key).in_(list(keys))
        )
    ).all()
    return {(str(row.user_id), str(row.key)): row for row in rows}


def remember_new(
    conn: Connection, answers: Sequence[tuple[str, str, str, bytes, BaseModel]]
) -> None:
    """Store ``(user_id, key, endpoint, digest, answer)`` for keys :func:`used` did not find
    (under the write lock, in the effect's transaction: one statement for a group)."""
    if not answers:
        return
    now = int(time.time())
    conn.execute(
        insert(idempotency_keys),
        [
            {
                "user_id": user_id, "key": key, "endpoint": endpoint, "request_hash": digest,
                "response": answer.model_dump_json(), "created_at": now,
            }
            for user_id, key, endpoint, digest, answer in answers
        ],
    )  # fmt: skip


def remember(conn: Connection, user_id: str, key: str, response: BaseModel) -> None:
    """Store the answer under the claimed key (same transaction as the effect)."""
    conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
        .values(response=response.model_dump_json())
    )

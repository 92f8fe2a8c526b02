"""Device-bound tokens: every request needs a fresh DPoP proof by the token's own key.

Each refused proof is answered 401 with a stable code and, since the token
was good, recorded as an ``access_refused`` leaf under the token's user — a
token used without its key is exactly what a thief does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from app.crypto.dpop import DPoPKey, access_token_hash, b64url, jwk_thumbprint
from server import db
from server.context import open_context
from server.dpop import NonceSource, ProofError, ProofVerifier
from tests.fixtures import DemoServer, ProvingClient, demo_server, enroll, login, proof_key


@pytest.fixture
def srv(tmp_path: Any) -> DemoServer:
    return demo_server(tmp_path, {"call.wav": (1.0, 8000, 1)})


def refusals(srv: DemoServer) -> list[tuple[str | None, str]]:
    with srv.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(db.access_events.c.user_id, db.access_events.c.reason)
            .where(db.access_events.c.action == "access_refused")
            .order_by(db.access_events.c.seq)
        )
        return [(r.user_id, r.reason) for r in rows]


def test_the_thumbprint_is_rfc_9449s_example() -> None:
    # RFC 9449 §6.1: this public key's thumbprint is the example token's cnf.jkt.
    jwk = {
        "kty": "EC",
        "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
        "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        "crv": "P-256",
        "kid": "ignored",
    }
    assert jwk_thumbprint(jwk) == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    # ath of RFC 9449 §7.1's example token.
    assert access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == (
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


def test_a_proof_is_checked_claim_by_claim() -> None:
    verifier = ProofVerifier(NonceSource(b"n" * 32))
    key = DPoPKey.generate()
    url = "https://cordon.example:8443/v1/tasks"
    nonce = verifier.nonces.current(1000)

    def reason(proof: str | None, **kw: Any) -> str:
        with pytest.raises(ProofError) as refused:
            verifier.verify(proof, kw.pop("method", "GET"), kw.pop("url", url), now=1000, **kw)
        return refused.value.reason

    good = key.proof("GET", url + "?x=1", access_token="tok", nonce=nonce, now=1000)
    assert verifier.verify(good, "GET", url, access_token="tok", now=1000).jkt == key.thumbprint
    assert reason(good, access_token="tok") == "dpop_replayed"
    assert reason(None) == "dpop_missing"
    assert reason("not a proof") == "dpop_malformed"
    assert reason(key.proof("POST", url, nonce=nonce, now=1000)) == "dpop_wrong_method"
    assert reason(key.proof("GET", url + "/x", nonce=nonce, now=1000)) == "dpop_wrong_url"
    assert reason(key.proof("GET", url, nonce=nonce, now=1000 - 121)) == "dpop_stale"
    assert reason(key.proof("GET", url, nonce=nonce, now=1000 + 31)) == "dpop_stale"
    assert reason(key.proof("GET", url, now=1000)) == "dpop_nonce"
    stale_nonce = verifier.nonces.current(1000 - 2 * 300)
    assert reason(key.proof("GET", url, nonce=stale_nonce, now=1000)) == "dpop_nonce"
    other = key.proof("GET", url, access_token="other", nonce=nonce, now=1000)
    assert reason(other, access_token="tok") == "dpop_wrong_token"
    no_ath = key.proof("GET", url, nonce=nonce, now=1000)
    assert reason(no_ath, access_token="tok") == "dpop_wrong_token"


def _forged(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url(sign(f'{head}.{body}'.encode()))}"


def test_forged_proofs_are_refused() -> None:
    verifier = ProofVerifier(NonceSource(b"n" * 32))
    key, thief = DPoPKey.generate(), DPoPKey.generate()
    url = "https://cordon.example/v1/me"
    nonce = verifier.nonces.current(1000)
    claims = {"htm": "GET", "htu": url, "iat": 1000, "jti": "j" * 16, "nonce": nonce}
    public = json.dumps(key.public_jwk).encode()
    forgeries = {
        # alg none: no signature at all
        "dpop_algorithm": _forged(
            {"typ": "dpop+jwt", "alg": "none", "jwk": key.public_jwk}, claims, lambda _: b""
        ),
        # HS256 keyed with the public key (the classic algorithm confusion)
        "dpop_algorithm ": _forged(
            {"typ": "dpop+jwt", "alg": "HS256", "jwk": key.public_jwk},
            claims,
            lambda m: hmac.new(public, m, hashlib.sha256).digest(),
        ),
        # signed by the thief, claiming the owner's public key
        "dpop_bad_signature": _swap_key(thief.proof("GET", url, nonce=nonce, now=1000), key),
        # a private key member in the header
        "dpop_malformed": _forged(
            {"typ": "dpop+jwt", "alg": "ES256", "jwk": {**key.public_jwk, "d": "AAAA"}},
            claims,
            lambda _: b"x" * 64,
        ),
        # not typed as a DPoP proof (an ID token, say)
        "dpop_malformed ": jwt.encode(
            claims, _private(key), algorithm="ES256", headers={"jwk": key.public_jwk}
        ),
    }
    for expected, proof in forgeries.items():
        with pytest.raises(ProofError) as refused:
            verifier.verify(proof, "GET", url, now=1000)
        assert refused.value.reason == expected.strip(), expected


def _private(key: DPoPKey) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_private_key  # noqa: PLC0415

    return load_der_private_key(key.private_bytes(), None)


def _swap_key(proof: str, owner: DPoPKey) -> str:
    head, body, sig = proof.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header["jwk"] = owner.public_jwk
    return f"{b64url(json.dumps(header).encode())}.{body}.{sig}"


ROUTES = [
    ("GET", "/v1/me"),
    ("GET", "/v1/tasks"),
    ("POST", "/v1/tasks/{task}/key-grant"),
    ("GET", "/v1/tasks/{task}/segment"),
    ("GET", "/v1/tasks/{task}/labels/latest"),
    ("POST", "/v1/tasks/{task}/labels"),
    ("POST", "/v1/events"),
    ("GET", "/v1/review/queue"),
]


def test_a_token_without_its_proof_opens_no_route(srv: DemoServer) -> None:
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    task = client.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]
    assert client.get("/v1/me", headers=headers).status_code == 200
    for method, path in ROUTES:
        body: dict[str, object] | None = {} if method == "POST" else None
        response = client.request(
            method, path.format(task=task), json=body, headers={**headers, "DPoP": ""}
        )
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"]["code"] == "invalid_dpop_proof"
    assert refusals(srv) == [(srv.demo.annotator_id, "dpop_missing")] * len(ROUTES)


def test_a_copied_request_or_a_thiefs_key_is_refused_and_recorded(srv: DemoServer) -> None:
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    token = headers["Authorization"].removeprefix("DPoP ")
    proof = client.prove(proof_key(headers), "GET", "/v1/tasks", token)
    assert client.get("/v1/tasks", headers={**headers, "DPoP": proof}).status_code == 200
    replayed = client.get("/v1/tasks", headers={**headers, "DPoP": proof})
    thief = client.prove(DPoPKey.generate(), "GET", "/v1/tasks", token)
    stolen = client.get("/v1/tasks", headers={**headers, "DPoP": thief})
    as_bearer = client.get("/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    other_url = client.prove(proof_key(headers), "GET", "/v1/me", token)
    moved = client.get("/v1/tasks", headers={**headers, "DPoP": other_url})
    for response, code in [
        (replayed, "invalid_dpop_proof"),
        (stolen, "invalid_dpop_proof"),
        (as_bearer, "unauthenticated"),
        (moved, "invalid_dpop_proof"),
    ]:
        assert response.status_code == 401
        assert response.json()["error"]["code"] == code
    reasons = [reason for user, reason in refusals(srv) if user == srv.demo.annotator_id]
    assert reasons == ["dpop_replayed", "dpop_key_mismatch", "dpop_wrong_url"]


def test_a_missing_nonce_is_answered_with_one_and_not_recorded(srv: DemoServer) -> None:
    client = srv.client()
    headers = login(client, "annotator")
    token = headers["Authorization"].removeprefix("DPoP ")
    url = str(client.base_url) + "/v1/me"
    proof = proof_key(headers).proof("GET", url, access_token=token)
    first = client.get("/v1/me", headers={**headers, "DPoP": proof})
    assert first.status_code == 401 and first.json()["error"]["code"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    assert first.headers["WWW-Authenticate"].startswith("DPoP")
    again = proof_key(headers).proof("GET", url, access_token=token, nonce=nonce)
    assert client.get("/v1/me", headers={**headers, "DPoP": again}).status_code == 200
    assert refusals(srv) == []


def test_sign_in_needs_a_proof_and_binds_the_token_to_its_key(srv: DemoServer) -> None:
    client = srv.client()
    bare = client.post("/v1/auth/demo-login", json={"username": "annotator"})
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "invalid_dpop_proof"
    key = DPoPKey.generate()
    headers = login(client, "annotator", key)
    claims = srv.ctx.signer.verify(headers["Authorization"].removeprefix("DPoP "))
    assert claims.jkt == key.thumbprint
    assert abs(claims.issued_at - time.time()) < 5


def test_fresh_proofs_are_never_taken_for_replays() -> None:
    verifier = ProofVerifier()
    key = DPoPKey.generate()
    nonce = verifier.nonces.current()
    seen = {
        verifier.verify(
            key.proof("GET", "https://h/v1/me", nonce=nonce), "GET", "https://h/v1/me"
        ).jti
        for _ in range(1000)
    }
    assert len(seen) == 1000


def test_a_client_without_a_nonce_gets_one_on_any_answer(srv: DemoServer) -> None:
    client = ProvingClient(srv.client().app)
    health = client.get("/v1/health")
    assert srv.ctx.proofs.nonces.valid(health.headers["DPoP-Nonce"])


def test_a_restarted_server_remembers_the_proofs_it_took(tmp_path: Path) -> None:
    """Nonces outlive a restart (their secret is in the data directory), so the seen
    proofs must too: the replay cache is a file of the data directory."""
    srv = demo_server(tmp_path, {})
    key = DPoPKey.generate()
    url = "https://127.0.0.1:8443/v1/tasks"
    nonce = srv.ctx.proofs.nonces.current()
    proof = key.proof("GET", url, access_token="t", nonce=nonce)
    srv.ctx.proofs.verify(proof, "GET", url, access_token="t")
    restarted = open_context(srv.ctx.data)
    assert restarted.proofs.nonces.valid(nonce)
    with pytest.raises(ProofError, match="already used"):
        restarted.proofs.verify(proof, "GET", url, access_token="t")
    replay_file = srv.ctx.data.root / "dpop-replay.sqlite3"
    assert replay_file.stat().st_mode & 0o777 == 0o600

"""Sign-in through a real OpenID Connect provider over TLS, and every way to get it wrong.

The provider is npm's ``oidc-provider`` (``devtools/oidc``) on 127.0.0.1 with a
certificate from its own CA; the server trusts it through ``cordon-server idp
add`` (discovery and JWKS over TLS pinned to that CA). Tokens come from the
provider's real authorization-code + PKCE flow driven through MSAL, with its
sign-in form filled in; the refusal cases are tokens minted with the
provider's own signing key (or one it does not list).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests
from sqlalchemy import select

from app.crypto.dpop import DPoPKey
from devtools.oidc_provider import (
    CLIENT_ID,
    Provider,
    sign_in_with_form,
    signing_key,
    start_provider,
)
from server import db
from server.cli import main as server_main
from server.idp import TokenChecker
from tests.fixtures import PROOF_KEYS, DemoServer, ProvingClient, demo_server

ACCOUNTS: dict[str, dict[str, Any]] = {
    "ada": {"password": "ada-pw", "name": "Ada L.", "email": "ada@example.org",
            "groups": ["cordon-annotators"]},
    "rui": {"password": "rui-pw", "name": "Rui R.", "groups": ["cordon-reviewers"]},
}  # fmt: skip


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    provider = start_provider(tmp_path_factory.mktemp("idp"), ACCOUNTS)
    yield provider
    provider.stop()


@pytest.fixture
def srv(tmp_path: Path, idp: Provider) -> DemoServer:
    server = demo_server(tmp_path, {"call.wav": (1.0, 8000, 1)})
    data = str(server.ctx.data.root)
    add = ["idp", "add", "corp", "--data-dir", data, "--issuer", idp.issuer]
    assert server_main([*add, "--audience", CLIENT_ID, "--ca", str(idp.ca_file)]) == 0
    for group, role in (("cordon-annotators", "annotator"), ("cordon-reviewers", "reviewer")):
        rule = ["--claim-value", group, "--project", "Demo call centre", "--role", role]
        assert server_main(["idp", "map", "corp", "--data-dir", data, *rule]) == 0
    return server


def id_token(idp: Provider, username: str) -> str:
    """A real ID token: MSAL's auth code + PKCE flow, the provider's form filled in."""
    http = requests.Session()
    http.trust_env = False
    http.verify = str(idp.ca_file)
    app = msal.PublicClientApplication(CLIENT_ID, oidc_authority=idp.issuer, http_client=http)
    flow = app.initiate_auth_code_flow(["groups"], redirect_uri="http://localhost:8400")
    back = sign_in_with_form(
        flow["auth_uri"], username, ACCOUNTS[username]["password"], idp.ca_file
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    result = app.acquire_token_by_auth_code_flow(flow, query)
    assert "id_token" in result, result.get("error_description")
    return str(result["id_token"])


def exchange(client: ProvingClient, token: str, key: DPoPKey | None = None) -> Any:
    key = key or DPoPKey.generate()
    proof = client.prove(key, "POST", "/v1/auth/sso")
    response = client.post(
        "/v1/auth/sso", json={"provider": "corp", "token": token}, headers={"DPoP": proof}
    )
    if response.status_code == 200:
        PROOF_KEYS[response.json()["access_token"]] = key
    return response


def leaves(srv: DemoServer, action: str) -> list[tuple[str | None, str]]:
    with srv.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(db.access_events.c.user_id, db.access_events.c.reason)
            .where(db.access_events.c.action == action)
            .order_by(db.access_events.c.seq)
        )
        return [(r.user_id, r.reason) for r in rows]


def test_a_real_sign_in_makes_the_user_and_their_roles(srv: DemoServer, idp: Provider) -> None:
    client = srv.client()
    key = DPoPKey.generate()
    answer = exchange(client, id_token(idp, "ada"), key)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"]["username"] == "ada" and body["user"]["display_name"] == "Ada L."
    assert body["expires_at"] - time.time() == pytest.approx(3600, abs=10)
    assert srv.ctx.signer.verify(body["access_token"]).jkt == key.thumbprint
    headers = {"Authorization": f"DPoP {body['access_token']}"}
    assert client.get("/v1/me", headers=headers).json()["username"] == "ada"
    with srv.ctx.engine.connect() as conn:
        roles = conn.execute(
            select(db.memberships.c.role, db.memberships.c.granted_by).where(
                db.memberships.c.user_id == body["user"]["user_id"]
            )
        ).all()
    assert [tuple(r) for r in roles] == [("annotator", "idp:corp")]
    reviewer = exchange(client, id_token(idp, "rui"))
    rui = {"Authorization": f"DPoP {reviewer.json()['access_token']}"}
    assert client.get("/v1/tasks", headers=rui).json()["review_projects"] == [srv.demo.project_id]
    created = leaves(srv, "user_created")
    assert [reason for _, reason in created] == ["idp_corp", "idp_corp"]
    # A second sign-in is the same person, not a new one.
    again = exchange(client, id_token(idp, "ada"))
    assert again.json()["user"]["user_id"] == body["user"]["user_id"]
    assert len(leaves(srv, "user_created")) == 2


def test_a_token_is_exchanged_once(srv: DemoServer, idp: Provider) -> None:
    client = srv.client()
    token = id_token(idp, "ada")
    assert exchange(client, token).status_code == 200
    replayed = exchange(client, token)  # e.g. lifted from a proxy log, from another machine
    assert replayed.status_code == 401
    assert replayed.json()["error"]["code"] == "idp_token_invalid"
    assert leaves(srv, "access_refused")[-1] == (None, "sso_token_replayed")


def _claims(idp: Provider, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": idp.issuer, "aud": CLIENT_ID, "sub": "ada", "iat": now, "exp": now + 600,
              "preferred_username": "ada", "groups": ["cordon-annotators"],
              "jti": uuid.uuid4().hex}  # fmt: skip
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_forged_or_unfit_tokens_are_refused_with_a_reason(srv: DemoServer, idp: Provider) -> None:
    client = srv.client()
    now = int(time.time())
    stranger = signing_key("idp-1")  # same kid, another key: a forgery
    good = idp.mint(_claims(idp))
    head, body, sig = good.split(".")
    tampered_body = idp.mint(_claims(idp, sub="rui")).split(".")[1]
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415
    import json  # noqa: PLC0415

    def unsigned(alg: str, secret: bytes | None = None) -> str:
        h = base64.urlsafe_b64encode(json.dumps({"alg": alg, "kid": "idp-1"}).encode())
        h_text = h.rstrip(b"=").decode()
        msg = f"{h_text}.{body}".encode()
        mac = hmac.new(secret, msg, hashlib.sha256).digest() if secret else b""
        return f"{h_text}.{body}." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    public_pem = json.dumps({k: idp.keys[0][k] for k in ("kty", "n", "e")}).encode()
    cases = {
        "wrong_issuer": idp.mint(_claims(idp, iss="https://127.0.0.1:1/other")),
        "wrong_audience": idp.mint(_claims(idp, aud="another-app")),
        "token_expired": idp.mint(_claims(idp, iat=now - 4000, exp=now - 3000)),
        "token_not_yet_valid": idp.mint(_claims(idp, nbf=now + 3000)),
        "token_stale": idp.mint(_claims(idp, iat=now - 3000, exp=now + 600)),
        "unknown_key": idp.mint(_claims(idp), signing_key("not-listed")),
        "bad_signature": f"{head}.{tampered_body}.{sig}",
        "bad_signature ": idp.mint(_claims(idp), stranger),
        "algorithm_refused": unsigned("none"),
        "algorithm_refused ": unsigned("HS256", public_pem),
        "claim_missing": idp.mint(_claims(idp, sub=None)),
        "malformed": "not-a-jwt",
    }
    for reason, token in cases.items():
        answer = exchange(client, token)
        assert answer.status_code == 401, (reason, answer.text)
        assert answer.json()["error"]["code"] == "idp_token_invalid", reason
        assert leaves(srv, "access_refused")[-1] == (None, f"sso_{reason.strip()}"), reason
    assert exchange(client, good).status_code == 200  # the same claims, properly signed
    with srv.ctx.engine.connect() as conn:
        names = conn.execute(select(db.users.c.username)).scalars().all()
    assert "rui" not in names


def test_a_rotated_key_is_fetched_when_its_kid_is_new(
    tmp_path: Path, srv: DemoServer, idp: Provider
) -> None:
    srv.ctx.idp_tokens = TokenChecker(refetch_cooldown_s=0.5)
    client = srv.client()
    assert exchange(client, idp.mint(_claims(idp))).status_code == 200  # JWKS cached now
    port = int(urlsplit(idp.issuer).port or 0)
    idp.stop()
    rotated = [signing_key("idp-2"), idp.keys[0]]
    restarted = start_provider(
        idp.workdir, ACCOUNTS, keys=rotated, port=port, ca=(idp.ca_file, idp.workdir / "idp-ca.key")
    )
    try:
        assert restarted.issuer == idp.issuer
        time.sleep(0.6)  # past the refetch cooldown
        answer = exchange(client, restarted.mint(_claims(restarted)))  # signed by idp-2
        assert answer.status_code == 200, answer.text
    finally:
        restarted.stop()
        fresh = start_provider(
            idp.workdir, ACCOUNTS, keys=idp.keys, port=port,
            ca=(idp.ca_file, idp.workdir / "idp-ca.key"),
        )  # fmt: skip
        idp.proc = fresh.proc  # the module's provider goes on for the other tests


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(srv: DemoServer, idp: Provider) -> None:
    client = srv.client()
    body = exchange(client, idp.mint(_claims(idp))).json()
    headers = {"Authorization": f"DPoP {body['access_token']}"}
    assert client.get("/v1/me", headers=headers).status_code == 200
    data = str(srv.ctx.data.root)
    assert server_main(["user", "disable", "ada", "--data-dir", data]) == 0
    signed_out = client.get("/v1/me", headers=headers)
    assert signed_out.status_code == 401 and "disabled" in signed_out.json()["error"]["message"]
    refused = exchange(client, idp.mint(_claims(idp)))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "account_disabled"
    assert server_main(["user", "enable", "ada", "--data-dir", data]) == 0
    assert exchange(client, idp.mint(_claims(idp))).status_code == 200
    changed = [reason for _, reason in leaves(srv, "user_changed")]
    assert [r.split("_")[0] for r in changed] == ["disabled", "enabled"]


def test_roles_follow_the_providers_groups(srv: DemoServer, idp: Provider) -> None:
    client = srv.client()
    user_id = exchange(client, idp.mint(_claims(idp))).json()["user"]["user_id"]

    def roles() -> list[str]:
        with srv.ctx.engine.connect() as conn:
            return list(
                conn.execute(
                    select(db.memberships.c.role).where(db.memberships.c.user_id == user_id)
                ).scalars()
            )

    assert roles() == ["annotator"]
    exchange(client, idp.mint(_claims(idp, groups=["cordon-reviewers"])))
    assert roles() == ["reviewer"]
    exchange(client, idp.mint(_claims(idp, groups=[])))
    assert roles() == []
    # A role an administrator set by hand is the administrator's, not the provider's.
    data = str(srv.ctx.data.root)
    hand = ["--username", "ada", "--project", "Demo call centre", "--role", "manager"]
    assert server_main(["user", "add", "--data-dir", data, *hand]) == 0
    exchange(client, idp.mint(_claims(idp)))
    assert roles() == ["manager"]
    exchange(client, idp.mint(_claims(idp, groups=[])))
    assert roles() == ["manager"]


def test_trust_needs_the_right_ca_and_issuer(tmp_path: Path, idp: Provider) -> None:
    server = demo_server(tmp_path, {"call.wav": (1.0, 8000, 1)})
    data = str(server.ctx.data.root)
    base = ["idp", "add", "corp", "--data-dir", data, "--audience", CLIENT_ID]
    wrong_ca = ["--issuer", idp.issuer, "--ca", str(server.ctx.data.ca_cert)]
    assert server_main([*base, *wrong_ca]) == 2
    wrong_issuer = ["--issuer", idp.issuer + "/", "--ca", str(idp.ca_file)]
    assert server_main([*base, *wrong_issuer]) == 2
    plain = ["--issuer", idp.issuer.replace("https", "http"), "--ca", str(idp.ca_file)]
    assert server_main([*base, *plain]) == 2
    hmac_alg = ["--issuer", idp.issuer, "--ca", str(idp.ca_file), "--algorithms", "HS256"]
    assert server_main([*base, *hmac_alg]) == 2
    with server.ctx.engine.connect() as conn:
        assert conn.execute(select(db.identity_providers)).all() == []


def test_the_claim_it_names_makes_the_workstation_managed(srv: DemoServer, idp: Provider) -> None:
    data = str(srv.ctx.data.root)
    policy = ["device", "policy", "--data-dir", data, "--enrolment", "approval"]
    assert server_main([*policy, "--managed-claim", "device_compliant=true"]) == 0
    client = srv.client()
    import base64  # noqa: PLC0415

    from app.crypto.device_keys import DeviceKeyPair  # noqa: PLC0415

    def enrol(token: str) -> dict[str, Any]:
        body = exchange(client, token).json()
        headers = {"Authorization": f"DPoP {body['access_token']}"}
        public = base64.b64encode(DeviceKeyPair.generate().public_bytes()).decode()
        answer = client.post("/v1/devices", json={"name": "ws", "public_key": public},
                             headers=headers)  # fmt: skip
        out: dict[str, Any] = answer.json()
        return out

    compliant = enrol(idp.mint(_claims(idp, device_compliant=True)))
    assert (compliant["state"], compliant["managed"]) == ("approved", True)
    plain = enrol(idp.mint(_claims(idp, device_compliant=False)))
    assert (plain["state"], plain["managed"]) == ("pending", False)

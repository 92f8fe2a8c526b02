"""Start the local OpenID Connect provider (``devtools/oidc``) over TLS, stop it by pid.

The tests and ``scripts/demo.sh --sso`` use the same provider: npm's
``oidc-provider``, installed by the bootstrap from the committed lock file,
served at ``https://127.0.0.1:PORT/oidc`` with a certificate from its own CA
(which the Cordon server and client then pin). Its signing keys are made here,
so tests can also mint tokens the provider could have signed (expired, for the
wrong audience) and tokens it could not (an unknown key).
"""

from __future__ import annotations

import html
import json
import re
import select
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from devtools.processes import start, stop
from server.pki import create_ca, issue_server_cert

ROOT = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "cordon-desktop"


def signing_key(kid: str) -> dict[str, Any]:
    """A fresh RSA private JWK (RS256, what most providers sign ID tokens with)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class Provider:
    """A running provider: its issuer URL, CA, signing keys and process."""

    issuer: str
    ca_file: Path
    keys: list[dict[str, Any]]
    proc: subprocess.Popen[bytes]
    workdir: Path
    accounts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def mint(self, claims: Mapping[str, Any], key: Mapping[str, Any] | None = None) -> str:
        """A token signed as the provider signs (or with ``key``, which it may not know)."""
        key = key or self.keys[0]
        private = RSAAlgorithm.from_jwk(json.dumps(key))
        return jwt.encode(dict(claims), private, algorithm="RS256", headers={"kid": key["kid"]})  # type: ignore[arg-type]

    def stop(self) -> None:
        stop(self.proc)


def start_provider(
    workdir: Path,
    accounts: Mapping[str, Mapping[str, Any]],
    *,
    keys: Sequence[dict[str, Any]] | None = None,
    redirect_uris: Sequence[str] = ("http://localhost", "http://127.0.0.1"),
    port: int = 0,
    ca: tuple[Path, Path] | None = None,
    timeout: float = 20.0,
) -> Provider:
    """Start the provider; ``ca`` (cert, key) reuses a CA, so a restart keeps the trust."""
    if not (ROOT / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("devtools/oidc has no node_modules: run scripts/bootstrap.sh")
    workdir.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = ca or (workdir / "idp-ca.pem", workdir / "idp-ca.key")
    if not ca_cert.exists():
        create_ca(ca_cert, ca_key, "Cordon test identity provider CA")
    cert, tls_key = workdir / "idp-tls.pem", workdir / "idp-tls.key"
    issue_server_cert(ca_cert, ca_key, cert, tls_key, ["127.0.0.1", "localhost"])
    keys = list(keys or [signing_key("idp-1")])
    config = {
        "port": port,
        "path": "/oidc",
        "key": str(tls_key),
        "cert": str(cert),
        "jwks": {"keys": keys},
        "clients": [{"client_id": CLIENT_ID, "redirect_uris": list(redirect_uris)}],
        "accounts": dict(accounts),
    }
    config_file = workdir / "idp-config.json"
    config_file.write_text(json.dumps(config))
    proc = start(
        ["node", str(ROOT / "provider.mjs"), str(config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    if proc.stdout is None:
        raise RuntimeError("no pipe from the OIDC provider")
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("READY "):
        stop(proc)
        raise RuntimeError(f"the OIDC provider did not start: {line!r}")
    return Provider(line.split()[1], ca_cert, keys, proc, workdir, accounts)


def sign_in_with_form(auth_url: str, username: str, password: str, ca_file: Path) -> str:
    """Fill the provider's sign-in form as a person would; return the final redirect URL.

    Follows the provider's redirects by hand and stops at the first one that
    leaves the provider (the client's loopback ``redirect_uri``, which carries
    the code) without requesting it.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file)
    issuer_origin = "/".join(auth_url.split("/")[:3])
    url, method, data = auth_url, "GET", None
    for _ in range(12):
        response = session.request(method, url, data=data, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url = urljoin(url, response.headers["location"])
            method, data = "GET", None
            if not url.startswith(issuer_origin):
                return url
            continue
        form = re.search(r'<form method="post" action="([^"]+)"', response.text)
        if form is None or data is not None:
            raise RuntimeError(f"sign-in failed at {response.status_code}: no form to fill")
        url = urljoin(url, html.unescape(form.group(1)))
        method, data = "POST", {"login": username, "password": password}
    raise RuntimeError("too many redirects")

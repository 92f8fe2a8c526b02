"""Server tokens: signed, expiring, and refused when touched."""

from __future__ import annotations

import pytest

from server.tokens import TokenError, TokenExpiredError, TokenSigner

SIGNER = TokenSigner(b"t" * 32, lifetime_s=60)


def test_issue_and_verify() -> None:
    token, claims = SIGNER.issue("usr_1", "jkt-1", now=1000)
    verified = SIGNER.verify(token, now=1059)
    assert (verified.user_id, verified.jkt) == ("usr_1", "jkt-1")
    assert claims.expires_at == 1060


def test_expired() -> None:
    token, _ = SIGNER.issue("usr_1", "jkt-1", now=1000)
    with pytest.raises(TokenExpiredError):
        SIGNER.verify(token, now=1060)


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),
    lambda t: "f" + t[1:],
    lambda t: t.replace(".", ""),
    lambda t: t + ".x",
    lambda t: "",
])  # fmt: skip
def test_tampered_or_malformed(mutate: object) -> None:
    token, _ = SIGNER.issue("usr_1", "jkt-1", now=1000)
    with pytest.raises(TokenError):
        SIGNER.verify(mutate(token), now=1001)  # type: ignore[operator]


def test_other_key_refused() -> None:
    token, _ = SIGNER.issue("usr_1", "jkt-1", now=1000)
    with pytest.raises(TokenError, match="signature"):
        TokenSigner(b"u" * 32).verify(token, now=1001)

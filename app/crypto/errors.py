"""Typed crypto failures.

Callers turn these into user-facing words and access events; none of them
carries plaintext, only what failed and where.
"""


class CryptoError(Exception):
    """Base class: something about protected data could not be trusted."""


class SegmentFormatError(CryptoError):
    """The segment header is malformed, unsupported or for another segment."""


class SegmentIntegrityError(CryptoError):
    """A chunk failed authentication, or the stream was truncated, reordered or extended."""


class KeyUnwrapError(CryptoError):
    """A wrapped key did not open: wrong key, wrong device, wrong binding or tampered."""


class GrantExpiredError(CryptoError):
    """A key grant's expiry has passed; the key must be requested again."""

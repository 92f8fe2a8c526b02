"""Tables of identity: trusted providers, who a provider's subject is, role rules,
revocations and exchanged provider tokens."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from server.db_metadata import metadata

#: Identity providers the server trusts (``cordon-server idp add``).
identity_providers = Table(
    "identity_providers",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("issuer", String(512), nullable=False),
    Column("audience", String(256), nullable=False),
    Column("jwks_uri", String(512), nullable=False),
    #: The CA that signs the provider's TLS certificate (public); ``None``: system store.
    Column("ca_pem", String(20000), nullable=True),
    Column("algorithms", String(128), nullable=False),
    Column("clock_skew_s", Integer, nullable=False),
    Column("username_claim", String(64), nullable=False),
    Column("groups_claim", String(64), nullable=False),
    Column("created_at", Integer, nullable=False),
)

#: Which person a provider's ``sub`` is (made at their first sign-in).
user_identities = Table(
    "user_identities",
    metadata,
    Column("provider", String(64), ForeignKey("identity_providers.name"), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False, index=True),
)

#: A provider group or app role that makes its members a role in a project.
idp_role_rules = Table(
    "idp_role_rules",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("provider", String(64), ForeignKey("identity_providers.name"), nullable=False),
    Column("claim_value", String(256), nullable=False),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    UniqueConstraint("provider", "claim_value", "project_id"),
)

#: Every revocation and disabling, numbered: the push channel watches the newest number.
revocations = Table(
    "revocations",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(64), nullable=False),
    Column("device_id", String(64), nullable=True),
    Column("created_at", Integer, nullable=False),
)

#: Provider tokens already exchanged (SHA-256), kept until they expire: each is used once.
idp_token_uses = Table(
    "idp_token_uses",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("expires_at", Integer, nullable=False, index=True),
)

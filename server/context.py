"""Everything a request handler needs, built once per server process."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from server import db, schema_version, segment_meta
from server.auditlog import store as audit_store
from server.auditlog.checkpoints import Checkpointer, load_signer, publish_verifier_key
from server.datadir import DataDir, ensure_secret
from server.dpop import NonceSource, ProofVerifier
from server.dpop_replay import SharedReplayCache
from server.group_commit import GroupCommitter
from server.idp import TokenChecker
from server.revocation_watch import RevocationWatch
from server.tokens import TokenSigner
from server.vault import KeyVault

DEFAULT_GRANT_LIFETIME_S = 15 * 60
#: A 2 h call with 20,000 segments and their text fits; nothing bigger is parsed.
MAX_JSON_BODY = 4 << 20


@dataclass
class ServerContext:
    data: DataDir
    engine: Engine
    vault: KeyVault
    signer: TokenSigner
    checkpointer: Checkpointer
    committer: GroupCommitter = field(init=False)
    writer: Engine = field(init=False)
    demo_login: bool = False
    grant_lifetime_s: int = DEFAULT_GRANT_LIFETIME_S
    max_json_body: int = MAX_JSON_BODY
    max_devices_per_user: int = 3
    #: Lifetime of a token issued after an identity-provider sign-in; the client
    #: renews it silently before it ends (the demo's tokens live 8 h).
    sso_token_lifetime_s: int = 3600
    #: Identity-provider token checks (JWKS caches per provider).
    idp_tokens: TokenChecker = field(default_factory=TokenChecker)
    #: Revocations noticed for the push channel (``/v1/session/watch``).
    revocations: RevocationWatch = field(init=False)
    #: Seconds between retention rounds (the first runs just after start).
    retention_interval_s: float = 3600.0
    #: DPoP proof checks: nonces and the replay cache of this process.
    proofs: ProofVerifier = field(default_factory=ProofVerifier)

    def __post_init__(self) -> None:
        self.committer = GroupCommitter(
            db.make_writer_engine(self.data.database_url, lock_at_begin=False),
            reader=self.engine,
        )
        self.writer = db.make_writer_engine(self.data.database_url)
        self.revocations = RevocationWatch(self.engine)

    def transaction(self) -> AbstractContextManager[Connection]:
        """A request's one write transaction (``BEGIN IMMEDIATE``).

        Immediate, so the write lock is taken up front and waited for in the
        busy handler: a deferred transaction that read first could fail at
        once when it tries to write after another writer committed.
        Reads that write nothing use ``engine.connect()``.
        """
        return self.writer.begin()


def open_context(data: DataDir, *, demo_login: bool = False) -> ServerContext:
    """Open an initialised data directory."""
    data.require_initialised()
    engine = db.make_engine(data.database_url)
    schema_version.upgrade(engine)  # versioned migrations, under the write lock
    audit_signer = load_signer(data)
    publish_verifier_key(data, audit_signer)
    vault = KeyVault(ensure_secret(data.root_key_path))
    segment_meta.seal_clear_titles(vault, engine)  # data made before titles were sealed
    # Nonces from a secret in the data directory: every process behind one port (and a
    # restarted one) issues and accepts the same nonces.
    nonces = NonceSource(ensure_secret(data.root / "keys" / "dpop-nonce.key"))
    replay = SharedReplayCache(data.root / "dpop-replay.sqlite3")
    ctx = ServerContext(
        data=data,
        proofs=ProofVerifier(nonces, replay),
        engine=engine,
        vault=vault,
        signer=TokenSigner(ensure_secret(data.token_key_path)),
        checkpointer=Checkpointer(data, engine, audit_signer),
        demo_login=demo_login,
    )
    with ctx.writer.begin() as conn:  # under the write lock: two processes never both fill
        audit_store.backfill_tiles(conn)  # audit logs made before their tiles were stored
    return ctx

"""``cordon-server``: init, serve, ingest, users, projects, governance, the demo, audit, db."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from app.domain.project_schema import SchemaError
from app.wire.schemas import Role
from server import (
    assignment,
    audit,
    blob_store,
    context_unlock,
    data_classes,
    db,
    db_commands,
    gold,
    governance_commands,
    identity_commands,
    listen_policy,
    project_schemas,
    provision,
    quality_commands,
    schema_version,
    storage_choice,
    update_commands,
)
from server.auditlog import commands as audit_commands
from server.comparisons import ingest_comparison
from server.context import DEFAULT_GRANT_LIFETIME_S, ServerContext, open_context
from server.datadir import DataDir, DataDirError, ensure_secret, write_secret
from server.demo import DEFAULT_AUDIO_DIR, setup_demo
from server.ingest import IngestedSegment, IngestError, ensure_project, ingest_file
from server.limits import ConnectionLimits
from server.pki import ensure_pki
from server.vault import KeyVault

logger = logging.getLogger("cordon.server")
CLI = quality_commands.CLI


def _data(args: argparse.Namespace) -> DataDir:
    return DataDir(Path(args.data_dir).resolve())


def cmd_init(args: argparse.Namespace) -> int:
    """Make the data directory, or check an initialised one against the storage asked for.

    Everything that can be refused is checked before anything is written: the URLs,
    an initialised directory's own choice (it cannot change: its keys are in that
    database), and that the PostgreSQL database can be reached and brought to the
    current schema. A refused init leaves no directory half made.
    """
    data = _data(args)
    try:
        url = storage_choice.database_url(args.database) if args.database else None
        if args.blobs:
            blob_store.parse_url(args.blobs)
        if storage_choice.initialised(data):
            storage_choice.check(data, args.database, args.blobs)
        elif url is not None:
            storage_choice.prepare_database(url)  # connect and migrate before keeping it
    except (storage_choice.StorageChoiceError, blob_store.BlobStoreError) as exc:
        print(f"cordon-server: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    data.create_dirs()
    ensure_secret(data.root_key_path)
    ensure_secret(data.token_key_path)
    names = list(dict.fromkeys([*args.name, "localhost", "127.0.0.1", "::1"]))
    ensure_pki(data, names)
    if args.blobs and not (data.root / blob_store.CONFIG_NAME).exists():
        blob_store.write_config(data.root, args.blobs)
    if url is not None and not data.database_url_path.exists():
        write_secret(data.database_url_path, url.encode())  # may hold a password
    engine = db.make_engine(data.database_url)
    schema_version.upgrade(engine)
    engine.dispose()
    print(f"initialised {data.root}; clients pin {data.ca_cert}")  # noqa: T201
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    if args.listen_fd is None:  # the supervisor checked for its workers
        storage_choice.check(_data(args), args.database, args.blobs)
    ctx = open_context(_data(args))  # the supervisor too: schema, keys and tiles made once
    if args.workers > 1 and args.listen_fd is None:
        return _supervise("serve", args)
    ctx.grant_lifetime_s = args.grant_lifetime
    _serve(ctx, args)
    return 0


def _serve(ctx: ServerContext, args: argparse.Namespace) -> None:
    """Serve on a fresh socket, or as one of several workers on an inherited one."""
    import socket  # noqa: PLC0415

    from server.serve import serve  # noqa: PLC0415 - uvicorn only for serving

    sock = None
    if args.listen_fd is not None:
        from server.workers import check_parent  # noqa: PLC0415

        check_parent(args.parent_pid)
        sock = socket.socket(fileno=args.listen_fd)
    serve(ctx, args.host, args.port, _ready(args), _limits(args), sock=sock)


def _supervise(command: str, args: argparse.Namespace) -> int:
    from server.workers import PortTakenError, supervise  # noqa: PLC0415 - uvicorn only here

    data = _data(args)
    passed = ["--grant-lifetime", str(args.grant_lifetime), "--read-timeout",
              str(args.read_timeout), "--max-connections", str(args.max_connections)]  # fmt: skip
    if command == "demo":
        passed += ["--audio-dir", args.audio_dir]
    try:
        return supervise(command, data.root, data.ca_cert, args.host, args.port,
                         _ready(args), passed, args.workers)  # fmt: skip
    except PortTakenError as exc:
        print(f"cordon-server: {exc}; nothing was started", file=sys.stderr)  # noqa: T201
        return 2


def _ready(args: argparse.Namespace) -> Path | None:
    return Path(args.ready_file) if args.ready_file else None


def _limits(args: argparse.Namespace) -> ConnectionLimits:
    return ConnectionLimits(
        read_timeout=args.read_timeout,
        body_timeout=3 * args.read_timeout,
        max_connections=args.max_connections,
    )


_Ingest = Callable[[DataDir, Engine, KeyVault, str, Path], IngestedSegment]


def cmd_ingest(args: argparse.Namespace) -> int:
    ctx = open_context(_data(args))
    try:  # an existing project by its id or name; a new name makes a new project
        project_id = provision.project_id_for(ctx.engine, args.project)
    except provision.ProvisionError:
        project_id = ensure_project(ctx.engine, ctx.vault, args.project)
        if args.data_class:  # a project made by this ingest takes the class too
            governance_commands.set_class(ctx, project_id, args.data_class)
    assignee = provision.user_id_for(ctx.engine, args.assign) if args.assign else None
    if not args.files and not args.comparison:
        raise IngestError("name audio files, or --comparison manifests, to ingest")
    sources: list[tuple[Path, _Ingest]] = [(Path(name), ingest_file) for name in args.files]
    sources += [(Path(name), ingest_comparison) for name in args.comparison]
    for path, ingest in sources:
        if ingest is ingest_file:
            seg = ingest_file(
                ctx.data, ctx.engine, ctx.vault, project_id, path, data_class=args.data_class,
                subject=args.subject,
            )  # fmt: skip
        else:
            seg = ingest(ctx.data, ctx.engine, ctx.vault, project_id, path)
        line = f"{seg.segment_id}\t{seg.frames / seg.sample_rate:.1f}s\t{seg.ciphertext_bytes} B"
        if assignee is not None:
            with ctx.engine.begin() as conn:
                line += "\t" + assignment.assign(conn, seg.segment_id, assignee, CLI).task_id
        print(line)  # noqa: T201
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    ctx = open_context(_data(args))
    user_id = provision.ensure_user(ctx.engine, args.username, args.display_name or args.username)
    if args.project:
        project_id = ensure_project(ctx.engine, ctx.vault, args.project)
        provision.set_membership(ctx.engine, user_id, project_id, Role(args.role))
    print(user_id)  # noqa: T201
    return 0


def cmd_project_policy(args: argparse.Namespace) -> int:
    """Show, or change (audited), a project's listening policy and gold rate."""
    ctx = open_context(_data(args))
    project_id = provision.project_id_for(ctx.engine, args.project)
    with ctx.engine.connect() as conn:
        policy = listen_policy.load(conn, project_id)
    if args.submit_coverage is not None or args.accept_coverage is not None:
        policy = listen_policy.ListenPolicy(
            policy.submit_coverage if args.submit_coverage is None
            else args.submit_coverage == "segments",
            policy.accept_coverage if args.accept_coverage is None else args.accept_coverage,
        )  # fmt: skip
        try:
            listen_policy.apply(ctx.engine, project_id, policy, CLI)
        except ValueError as exc:
            print(f"cordon-server: {exc}; nothing was changed", file=sys.stderr)  # noqa: T201
            return 2
    made: list[str] = []
    if args.gold_rate is not None:
        try:
            with ctx.engine.begin() as conn:
                made = assignment.set_gold_rate(conn, project_id, args.gold_rate, CLI)
        except gold.GoldError as exc:
            print(f"cordon-server: {exc}; the gold rate was not changed", file=sys.stderr)  # noqa: T201
            return 2
    if {args.context_max, args.context_approval, args.context_per_day} != {None}:
        with ctx.engine.begin() as conn:
            was = context_unlock.load_policy(conn, project_id)
            wanted = context_unlock.ContextPolicy(
                was.max_s if args.context_max is None else args.context_max,
                was.approval if args.context_approval is None else args.context_approval == "yes",
                was.per_day if args.context_per_day is None else args.context_per_day,
            )
            try:
                context_unlock.store_policy(conn, project_id, wanted, CLI)
            except ValueError as exc:
                print(f"cordon-server: {exc}; the context rules were not changed", file=sys.stderr)  # noqa: T201
                return 2
    if args.annotations is not None:
        try:
            with ctx.engine.begin() as conn:
                filled = assignment.set_per_recording(conn, project_id, args.annotations, CLI)
            print(f"{filled} task(s) assigned to reach {args.annotations} per recording")  # noqa: T201
        except assignment.AssignmentError as exc:
            print(f"cordon-server: {exc}; nothing was changed", file=sys.stderr)  # noqa: T201
            return 2
    with ctx.engine.connect() as conn:
        rate = gold.load_rate(conn, project_id)
        unlock = context_unlock.load_policy(conn, project_id)
        per = assignment.load_per_recording(conn, project_id)
    rule = "every segment heard" if policy.submit_coverage else "no listening required"
    print(f"project {project_id}: hand-in: {rule}; "  # noqa: T201
          f"accept: {policy.accept_coverage}% of the recording heard; "
          f"annotations per recording: {per}; gold: {rate}% of each annotator's tasks; "
          f"context: up to {unlock.max_s} s either side, {unlock.per_day} a day"
          + (", a reviewer approves" if unlock.approval else "")
          + (f" ({len(made)} gold task(s) handed out)" if made else ""))  # fmt: skip
    return 0


def cmd_project_schema(args: argparse.Namespace) -> int:
    """Validate a schema file and apply it as the project's next version (audited)."""
    ctx = open_context(_data(args))
    project_id = provision.project_id_for(ctx.engine, args.project)
    try:
        data = project_schemas.read_file(Path(args.file))
        applied = project_schemas.apply_schema(
            ctx.engine, project_id, data, audit.Actor(user_id=None, remote_addr="cli")
        )
    except SchemaError as exc:
        print(f"cordon-server: {args.file}: {exc}; nothing was applied", file=sys.stderr)  # noqa: T201
        return 2
    state = "applied" if applied.changed else "unchanged, still"
    print(f"project {project_id}: schema {state} version {applied.version}")  # noqa: T201
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if not ipaddress.ip_address(args.host).is_loopback:
        print("the demo serves demo logins and binds to loopback only", file=sys.stderr)  # noqa: T201
        return 2
    data = _data(args)
    worker = args.listen_fd is not None  # the supervisor set the demo up already
    if not worker:
        try:
            data.require_initialised()
        except DataDirError:
            made = argparse.Namespace(
                data_dir=args.data_dir, name=[], blobs=args.blobs, database=args.database
            )
            if cmd_init(made) != 0:
                return 2
        storage_choice.check(data, args.database, args.blobs)
    ctx = open_context(data, demo_login=True)
    ctx.grant_lifetime_s = args.grant_lifetime
    # Demo workstations keep no keyring between runs (see scripts/run_demo.py), so each
    # run enrols a fresh device; the production cap of three would stop the fourth run.
    ctx.max_devices_per_user = 1000
    if not worker:
        demo = setup_demo(ctx, Path(args.audio_dir))
        tasks = len(demo.task_ids)
        print(f"demo project {demo.project_id}: {tasks} tasks; users: annotator, reviewer")  # noqa: T201
        if args.workers > 1:
            return _supervise("demo", args)
    _serve(ctx, args)
    return 0


def cmd_openapi(_args: argparse.Namespace) -> int:

    from server.api.app import openapi_schema  # noqa: PLC0415 - FastAPI only for this

    print(json.dumps(openapi_schema(), indent=2, sort_keys=True))  # noqa: T201
    return 0


def _serve_parsers(
    sub: Any, with_data: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    for name, func, port in (("serve", cmd_serve, 8443), ("demo", cmd_demo, 8443)):
        p = with_data(sub.add_parser(name, help=f"{name} over TLS 1.3"))
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=port)
        p.add_argument("--ready-file", help="write the URL here once listening")
        p.add_argument(
            "--grant-lifetime",
            type=int,
            default=DEFAULT_GRANT_LIFETIME_S,
            help="seconds a released segment key stays usable by the client",
        )
        p.add_argument(
            "--read-timeout",
            type=float,
            default=ConnectionLimits.read_timeout,
            help="seconds a client has for the TLS handshake and a request's headers "
            "(three times this for its body)",
        )
        p.add_argument(
            "--max-connections",
            type=int,
            default=ConnectionLimits.max_connections,
            help="open connections at most; more are closed at once",
        )
        p.add_argument(
            "--workers", type=int, default=1,
            help="server processes sharing the port (one per core; see server/workers.py)",
        )  # fmt: skip
        p.add_argument(
            "--database", metavar="URL",
            help="postgresql://…: the database this data directory keeps (refused if it "
            "keeps another" + (", used to make it" if name == "demo" else "") + ")",
        )  # fmt: skip
        p.add_argument(
            "--blobs", metavar="URL",
            help="s3://…: the object store this data directory keeps its recordings in "
            "(refused if it keeps them elsewhere)",
        )  # fmt: skip
        p.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)  # a worker's socket
        p.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # its supervisor
        if name == "demo":
            p.add_argument("--audio-dir", default=str(DEFAULT_AUDIO_DIR))
        p.set_defaults(func=func)


def _init_parser(
    sub: Any, with_data: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    p = with_data(sub.add_parser("init", help="create the data directory, CA and keys"))
    p.add_argument("--name", action="append", default=[], help="extra DNS name or IP for the cert")
    p.add_argument(
        "--blobs",
        help="keep sealed recordings in S3-compatible storage: "
        "s3://bucket[/prefix][?endpoint=https://host:port&region=R] (credentials: boto3's "
        "usual chain); default: the data directory's blobs/",
    )
    p.add_argument(
        "--database",
        help="keep the database in PostgreSQL: postgresql://user@host:port/db "
        "(kept 0600 in the data directory; prefer a password file or peer authentication "
        "to a password in the URL); default: SQLite in the data directory",
    )
    p.set_defaults(func=cmd_init)


def _ingest_parser(
    sub: Any, with_data: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    p = with_data(
        sub.add_parser("ingest", help="encrypt audio files or RLHF comparisons into a project")
    )
    p.add_argument("--project", required=True)
    p.add_argument("--assign", help="assign each new segment to this annotator")
    p.add_argument(
        "--comparison", action="append", default=[], metavar="MANIFEST",
        help="a pairwise or ranking comparison: a JSON manifest naming prompt and outputs",
    )  # fmt: skip
    p.add_argument(
        "--class", dest="data_class", choices=[c.value for c in data_classes.ORDER],
        help="the recordings' data class, if stricter than the project's",
    )  # fmt: skip
    p.add_argument(
        "--subject", help="the data subject's id (kept only as a keyed digest; for erasure)"
    )
    p.add_argument("files", nargs="*")
    p.set_defaults(func=cmd_ingest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cordon-server", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_data(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", required=True, help="server data directory")
        return p

    _init_parser(sub, with_data)

    _serve_parsers(sub, with_data)

    _ingest_parser(sub, with_data)

    users = identity_commands.add_parser(sub, with_data)
    p = with_data(users.add_parser("add", help="add a user, optionally to a project"))
    p.add_argument("--username", required=True)
    p.add_argument("--display-name")
    p.add_argument("--project")
    p.add_argument("--role", choices=[r.value for r in Role], default="annotator")
    p.set_defaults(func=cmd_user)
    project = sub.add_parser("project", help="project settings").add_subparsers(
        dest="project_command", required=True
    )
    p = with_data(
        project.add_parser("schema", help="apply an annotation schema (JSON or TOML) to a project")
    )
    p.add_argument("--project", required=True, help="project name or id")
    p.add_argument("file")
    p.set_defaults(func=cmd_project_schema)
    p = with_data(project.add_parser("policy", help="what must be heard before a hand-in/accept"))
    p.add_argument("--project", required=True, help="project name or id")
    p.add_argument("--submit-coverage", choices=["segments", "none"],
                   help="segments: every segment of a hand-in heard by its annotator")  # fmt: skip
    p.add_argument("--accept-coverage", type=int, metavar="PCT",
                   help="percent of the recording an accepting reviewer heard")  # fmt: skip
    p.add_argument("--gold-rate", type=int, metavar="PCT",
                   help="percent of each annotator's tasks that are gold tasks (0-50)")  # fmt: skip
    p.add_argument("--annotations", type=int, metavar="N",
                   help="independent annotations per assigned recording (1-5)")  # fmt: skip
    p.add_argument("--context-max", type=int, metavar="S",
                   help="seconds either side of a window one may ask for (0: none)")  # fmt: skip
    p.add_argument("--context-approval", choices=["yes", "no"],
                   help="yes: a reviewer of the project grants each context ask")  # fmt: skip
    p.add_argument("--context-per-day", type=int, metavar="N",
                   help="context asks per annotator and task in 24 hours")  # fmt: skip
    p.set_defaults(func=cmd_project_policy)
    identity_commands.add_rules_parser(project, with_data)
    governance_commands.add_parser(sub, project, with_data)
    quality_commands.add_parser(sub, with_data)
    audit_commands.add_parser(sub, with_data)
    update_commands.add_parser(sub, with_data)
    db_commands.add_parser(sub, with_data)
    p = sub.add_parser("openapi", help="print the /v1 API's OpenAPI document (it is not served)")
    p.set_defaults(func=cmd_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Alembic's per-run context lines; server.schema_version logs each upgrade it makes.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (
        DataDirError,
        IngestError,
        provision.ProvisionError,
        schema_version.SchemaVersionError,
    ) as exc:
        print(f"cordon-server: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    except storage_choice.StorageChoiceError as exc:
        print(f"cordon-server: {exc} ({exc.code})", file=sys.stderr)  # noqa: T201
        return 2
    except governance_commands.ERRORS as exc:
        return governance_commands.refusal(exc)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""What a project's data owner runs: data classes, retention, erasure, lineage, exports.

``cordon-server project class --project P --class restricted``
    the project's data class and the controls it brings (``server.data_classes``).
``cordon-server retention set --project P --audio-days N --label-days M --draft-days K``
    (``keep`` for any of them); ``retention show --project P``; ``retention run``
    applies every project's retention now (the server does it hourly).
``cordon-server erase --project P (--segment S | --task T | --subject ID | --all) --by USER``
    crypto-shreds and prints a receipt; ``erase --resume`` finishes interrupted jobs.
``cordon-server lineage --task T``
    the provenance chain of a task's revisions.
``cordon-server export --project P --format jsonl|eaf|textgrid|label-studio --purpose WHY
--by USER [--masked] [--audio] (--to RECIPIENT.pub --out FILE | --plaintext-dir DIR)``
    an archive sealed to the recipient; plaintext only where the data class allows.
``cordon-server recipient keygen --out NAME`` / ``recipient open --key NAME.key FILE --out DIR``
    the recipient's side.

Every change is a leaf in the audit log; refusals change nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update

from app.wire.schemas import AccessAction
from server import (
    audit,
    data_classes,
    db,
    erasure,
    masking,
    pii_patterns,
    provenance,
    provision,
    retention,
)
from server.api.permissions import Capability, is_server_admin, may
from server.api.principal import membership_role
from server.context import ServerContext, open_context
from server.datadir import DataDir
from server.exports import build as export_build
from server.exports import sealed
from server.ingest import new_id

CLI = audit.Actor(None, None, "cli")


def _ctx(args: argparse.Namespace) -> ServerContext:
    return open_context(DataDir(Path(args.data_dir).resolve()))


def _print(value: object) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))  # noqa: T201


def _refused(message: str, code: str) -> int:
    print(f"cordon-server: {message} ({code}); nothing was changed", file=sys.stderr)  # noqa: T201
    return 2


def _person(
    ctx: ServerContext, username: str | None, project_id: str, *, admins: bool,
    capability: Capability = Capability.PLAN,
) -> audit.Actor:  # fmt: skip
    """The person a command acts for: a manager or administrator of the project (with
    ``capability``; or, where ``admins``, a server administrator)."""
    if not username:
        raise provision.ProvisionError("name who asks for this with --by (it is audited)")
    user_id = provision.user_id_for(ctx.engine, username)
    with ctx.engine.connect() as conn:
        role = membership_role(conn, user_id, project_id)
        if may(role, capability) or (admins and is_server_admin(conn, user_id)):
            return audit.Actor(user_id, None, "cli")
    who = "a manager or administrator" if capability is Capability.PLAN else "an administrator"
    raise provision.ProvisionError(f"{username} is not {who} of the project")


# -- data classes ----------------------------------------------------------------------
def set_class(ctx: ServerContext, project_id: str, name: str, actor: audit.Actor = CLI) -> None:
    """Set the project's data class (audited ``governance_changed``, ``class_<name>``)."""
    chosen = data_classes.parse(name)
    with ctx.transaction() as conn:
        conn.execute(
            update(db.projects)
            .where(db.projects.c.id == project_id)
            .values(data_class=chosen.value)
        )
        audit.record(conn, actor, AccessAction.GOVERNANCE_CHANGED,
                     reason=f"class_{chosen.value}", project_id=project_id)  # fmt: skip


def cmd_class(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    if args.data_class:
        chosen = data_classes.parse(args.data_class)
        with ctx.engine.connect() as conn:
            current = data_classes.of_project(conn, project_id)
        # Anyone who plans the project may make it stricter; loosening it (which unlocks
        # plaintext or unmasked exports) is an administrator's decision.
        looser = data_classes.ORDER.index(chosen) < data_classes.ORDER.index(current)
        needed = Capability.ADMINISTER if looser else Capability.PLAN
        actor = _person(ctx, args.by, project_id, admins=True, capability=needed)
        set_class(ctx, project_id, args.data_class, actor)
    with ctx.engine.connect() as conn:
        current = data_classes.of_project(conn, project_id)
    _print({"project_id": project_id, "data_class": current.value,
            "controls": dataclasses.asdict(data_classes.controls(current))})  # fmt: skip
    return 0


# -- retention -------------------------------------------------------------------------
def _days(text: str | None) -> int | None:
    if text is None or text == "keep":
        return None
    try:
        return int(text)
    except ValueError:
        raise retention.RetentionError(f"{text!r}: a number of days or 'keep'") from None


def cmd_retention_set(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    actor = _person(ctx, args.by, project_id, admins=True)
    with ctx.transaction() as conn:
        was = retention.effective(conn, project_id)
        chosen = retention.set_policy(
            conn, project_id,
            was.audio_days if args.audio_days is None else _days(args.audio_days),
            was.label_days if args.label_days is None else _days(args.label_days),
            was.draft_days if args.draft_days is None else _days(args.draft_days),
            actor,
        )  # fmt: skip
    print(f"{project_id}: {chosen.describe()}")  # noqa: T201
    return 0


def cmd_retention_show(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    with ctx.engine.connect() as conn:
        print(f"{project_id}: {retention.effective(conn, project_id).describe()}")  # noqa: T201
    return 0


def cmd_retention_run(args: argparse.Namespace) -> int:
    receipts = retention.run(_ctx(args))
    _print([dataclasses.asdict(r) for r in receipts])
    return 0


# -- erasure ---------------------------------------------------------------------------
def cmd_erase(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    if args.resume:
        _print([dataclasses.asdict(r) for r in erasure.resume(ctx)])
        return 0
    if args.project is None or args.by is None:
        raise erasure.ErasureError("usage", "name --project and --by (or --resume)")
    project_id = provision.project_id_for(ctx.engine, args.project)
    actor = _person(ctx, args.by, project_id, admins=True)
    scopes = [
        ("segment", args.segment), ("task", args.task), ("subject", args.subject),
        ("project", project_id if args.all else None),
    ]  # fmt: skip
    chosen = [(s, t) for s, t in scopes if t]
    if len(chosen) != 1:
        raise erasure.ErasureError(
            "usage", "name exactly one of --segment, --task, --subject, --all"
        )
    scope, target = chosen[0]
    job = erasure.request(ctx, project_id, scope, target, actor)
    receipt = erasure.run(ctx, job)
    _print(dataclasses.asdict(receipt))
    print(  # noqa: T201
        f"erased {len(receipt.items)} item(s); audit log {receipt.done_log_id} "
        f"leaf {receipt.done_leaf_index} records it",
        file=sys.stderr,
    )
    return 0


# -- lineage ---------------------------------------------------------------------------
def cmd_lineage(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    with ctx.engine.connect() as conn:
        record = provenance.task_record(conn, args.task)
        record["revisions"] = [r.as_dict() for r in provenance.chain(conn, args.task)]
    _print(record)
    return 0


# -- exports ---------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    actor = _person(ctx, args.by, project_id, admins=False)
    req = export_build.ExportRequest(
        project_id, args.format, args.masked, args.audio, args.purpose, args.schema_version
    )
    if (args.to is None) == (args.plaintext_dir is None):
        raise export_build.ExportError(
            "usage", "name --to RECIPIENT.pub (with --out) or --plaintext-dir"
        )
    public_key = sealed.read_public_key(Path(args.to)) if args.to else None
    out = Path(args.out) if args.out else None
    if public_key is not None and out is None:
        raise export_build.ExportError("usage", "--to needs --out FILE")
    with ctx.engine.connect() as conn:
        data_class = export_build.check(conn, req)
    if public_key is None and not data_classes.controls(data_class).exports_plaintext:
        raise export_build.ExportError(
            "class_refused",
            f"{data_class.value} projects are exported sealed to a recipient only (--to)",
        )
    export_id = new_id("exp")
    built = export_build.build(ctx, req, export_id)
    if public_key is None and not data_classes.controls(built.data_class_enum).exports_plaintext:
        raise export_build.ExportError(  # a recording stricter than its project
            "class_refused",
            f"the project holds {built.data_class} recordings: exported sealed only (--to)",
        )
    reason = f"{req.purpose}_{req.fmt.replace('-', '_')}" + ("_masked" if req.masked else "")
    if public_key is not None and out is not None:
        partial = out.with_name(f".{out.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as sink:
            sealed.seal(
                built.archive, sink, public_key, export_id=export_id, project_id=project_id,
                created_at=built.created_at,
            )  # fmt: skip
            sink.flush()
            os.fsync(sink.fileno())
        _record_export(ctx, actor, project_id, reason)
        os.replace(partial, out)
        where = str(out)
    else:
        _record_export(ctx, actor, project_id, reason)
        where = _unpack(built.archive, Path(args.plaintext_dir))
    _print({"export_id": export_id, "project_id": project_id, "tasks": len(built.tasks),
            "audio_files": built.audio_files, "format": req.fmt, "masked": req.masked,
            "purpose": req.purpose, "data_class": built.data_class, "written": where,
            "archive_bytes": len(built.archive)})  # fmt: skip
    return 0


def _record_export(ctx: ServerContext, actor: audit.Actor, project_id: str, reason: str) -> None:
    with ctx.transaction() as conn:
        audit.record(conn, actor, AccessAction.EXPORTED, reason=reason, project_id=project_id)


def _unpack(archive: bytes, target: Path) -> str:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return str(target)


def cmd_recipient_keygen(args: argparse.Namespace) -> int:
    private, public = sealed.write_key_pair(Path(args.out))
    print(f"private key (keep it): {private}\npublic key (give it to the data owner): {public}")  # noqa: T201
    return 0


def cmd_recipient_open(args: argparse.Namespace) -> int:
    pair = sealed.read_private_key(Path(args.key))
    with Path(args.file).open("rb") as source:
        header, archive = sealed.open_sealed(source, pair)
    where = _unpack(bytes(archive), Path(args.out))
    archive[:] = bytes(len(archive))
    shown = {k: v for k, v in header.__dict__.items() if k != "wrapped_key"}
    _print({**shown, "written": where, "opened_at": int(time.time())})
    return 0


# -- parsers ---------------------------------------------------------------------------
def add_parser(
    sub: Any, project: Any, with_data: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    choices = [c.value for c in data_classes.ORDER]
    p = with_data(project.add_parser("class", help="the project's data class and its controls"))
    p.add_argument("--project", required=True, help="project name or id")
    p.add_argument("--class", dest="data_class", choices=choices, help="set it (default: show)")
    p.add_argument("--by", help="who sets it (audited): a manager, or an administrator to loosen")
    p.set_defaults(func=cmd_class)

    group = sub.add_parser("retention", help="how long projects keep audio, labels, drafts")
    rsub = group.add_subparsers(dest="retention_command", required=True)
    p = with_data(rsub.add_parser("set", help="a project's retention (days, or 'keep')"))
    p.add_argument("--project", required=True)
    p.add_argument("--audio-days", help="after the recording's tasks were accepted")
    p.add_argument("--label-days", help="after the task was accepted")
    p.add_argument("--draft-days", help="after the draft was saved")
    p.add_argument("--by", required=True, help="the manager or administrator setting it")
    p.set_defaults(func=cmd_retention_set)
    p = with_data(rsub.add_parser("show", help="a project's retention"))
    p.add_argument("--project", required=True)
    p.set_defaults(func=cmd_retention_show)
    p = with_data(rsub.add_parser("run", help="apply every project's retention now"))
    p.set_defaults(func=cmd_retention_run)

    p = with_data(sub.add_parser("erase", help="erase for good (crypto-shredding), with a receipt"))
    p.add_argument("--project", help="project name or id")
    p.add_argument("--segment")
    p.add_argument("--task", help="the task's recording and everything on it")
    p.add_argument("--subject", help="every recording ingested with this --subject")
    p.add_argument("--all", action="store_true", help="the whole project (its key too)")
    p.add_argument("--by", help="the manager or administrator asking (audited)")
    p.add_argument("--resume", action="store_true", help="finish interrupted erasures")
    p.set_defaults(func=cmd_erase)

    _export_parsers(sub, with_data)


def _export_parsers(
    sub: Any, with_data: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    p = with_data(sub.add_parser("lineage", help="the provenance chain of a task"))
    p.add_argument("--task", required=True)
    p.set_defaults(func=cmd_lineage)

    p = with_data(sub.add_parser("export", help="export accepted labels (sealed to a recipient)"))
    p.add_argument("--project", required=True)
    p.add_argument("--format", required=True, choices=export_build.FORMATS)
    p.add_argument("--purpose", required=True, choices=export_build.PURPOSES)
    p.add_argument("--by", required=True, help="the manager or administrator exporting")
    p.add_argument("--masked", action="store_true", help="pseudonyms for PII, audio bleeped")
    p.add_argument("--audio", action="store_true", help="include the recordings (FLAC)")
    p.add_argument("--schema-version", type=int, help="only tasks labelled under this version")
    p.add_argument("--to", metavar="RECIPIENT.pub", help="seal the export to this key")
    p.add_argument("--out", help="the sealed file to write")
    p.add_argument("--plaintext-dir", help="write unsealed (only where the class allows)")
    p.set_defaults(func=cmd_export)

    group = sub.add_parser("recipient", help="an export recipient's keys and files")
    rsub = group.add_subparsers(dest="recipient_command", required=True)
    p = rsub.add_parser("keygen", help="make a key pair: NAME.key (private) and NAME.pub")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_recipient_keygen)
    p = rsub.add_parser("open", help="open a sealed export into a directory")
    p.add_argument("--key", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("file")
    p.set_defaults(func=cmd_recipient_open)


#: Errors these commands turn into a refusal (exit 2, stable code).
ERRORS: tuple[type[Exception], ...] = (
    erasure.ErasureError, export_build.ExportError, retention.RetentionError,
    masking.MaskingError, pii_patterns.PiiTextTooLong,
    sealed.RecipientKeyError, sealed.SealedExportError, provenance.UnknownTaskError,
    data_classes.DataClassError,
)  # fmt: skip


def refusal(exc: Exception) -> int:
    code = getattr(exc, "code", type(exc).__name__)
    return _refused(str(exc), str(code))

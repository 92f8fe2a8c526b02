"""What a security team runs on the data directory: identity providers, users, devices.

``cordon-server idp add NAME --issuer URL --audience ID [--ca FILE] [--algorithms A,B]
[--clock-skew S] [--username-claim C] [--groups-claim C]``
    trust a provider (discovery runs now, over TLS pinned to ``--ca``).
``cordon-server idp map NAME --claim-value GROUP --project P --role ROLE``
    members of GROUP (in the provider's groups claim) get ROLE in P at each sign-in.
``cordon-server idp list`` / ``idp unmap NAME --claim-value GROUP --project P``
``cordon-server project rules --project P [--hours 'Mon-Fri 08:00-18:00' --timezone Z]
[--managed-only yes|no] [--networks CIDR,...]``
    when, on what workstation and from where the project's audio is released.
``cordon-server user add --username NAME [--project P --role R]`` (a local user)
``cordon-server user list`` / ``user disable NAME`` / ``user enable NAME``
    a disabled user's tokens stop working at their next request.
``cordon-server user admin NAME [--remove]``
    a server administrator manages people and devices through the admin API; no content.
``cordon-server device list [--user NAME]`` / ``device approve ID [--managed]`` /
``device revoke ID``
``cordon-server device policy [--enrolment open|approval] [--managed-claim C=V]
[--new-secret]``
    how new workstations are admitted (``server.enrolment``).
    a revoked workstation is refused everywhere and told to wipe itself.

Every change is a leaf in the audit log (actor ``cli``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

from app.wire.schemas import AccessAction, Role
from server import access_rules, audit, db, enrolment, identity_admin, idp, provision
from server.context import open_context
from server.datadir import DataDir
from server.ingest import new_id

CLI = audit.Actor(None, None, "cli")


def _ctx(args: argparse.Namespace) -> Any:
    return open_context(DataDir(Path(args.data_dir).resolve()))


def _print(value: object) -> None:
    print(json.dumps(value, indent=2))  # noqa: T201


def _refused(message: str) -> int:
    print(f"cordon-server: {message}; nothing was changed", file=sys.stderr)  # noqa: T201
    return 2


def cmd_idp_add(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    ca_pem = Path(args.ca).read_text() if args.ca else None
    algorithms = tuple(a.strip() for a in args.algorithms.split(",") if a.strip())
    try:
        document = idp.discover(args.issuer, ca_pem)
        with ctx.engine.begin() as conn:
            idp.register(
                conn, args.name, args.issuer, args.audience, ca_pem=ca_pem,
                jwks_uri=str(document["jwks_uri"]), algorithms=algorithms,
                clock_skew_s=args.clock_skew, username_claim=args.username_claim,
                groups_claim=args.groups_claim,
            )  # fmt: skip
            audit.record(conn, CLI, AccessAction.IDP_CHANGED, reason=f"added_{args.name}"[:64])
    except idp.IdpError as exc:
        return _refused(str(exc))
    _print({"name": args.name, "issuer": args.issuer, "jwks_uri": document["jwks_uri"]})
    return 0


def cmd_idp_list(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    with ctx.engine.connect() as conn:
        providers = conn.execute(select(db.identity_providers)).all()
        rules = conn.execute(select(db.idp_role_rules)).all()
    _print(
        [
            {
                "name": p.name,
                "issuer": p.issuer,
                "audience": p.audience,
                "algorithms": p.algorithms.split(","),
                "clock_skew_s": p.clock_skew_s,
                "ca_pinned": p.ca_pem is not None,
                "rules": [
                    {"claim_value": r.claim_value, "project_id": r.project_id, "role": r.role}
                    for r in rules
                    if r.provider == p.name
                ],
            }
            for p in providers
        ]
    )
    return 0


def cmd_idp_map(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    with ctx.engine.begin() as conn:
        if idp.load(conn, args.name) is None:
            return _refused(f"no identity provider named {args.name!r}")
        rules = db.idp_role_rules
        conn.execute(
            delete(rules).where(
                rules.c.provider == args.name,
                rules.c.claim_value == args.claim_value,
                rules.c.project_id == project_id,
            )
        )
        conn.execute(
            insert(rules).values(
                id=new_id("rul"), provider=args.name, claim_value=args.claim_value,
                project_id=project_id, role=Role(args.role).value, created_at=int(time.time()),
            )
        )  # fmt: skip
        audit.record(
            conn, CLI, AccessAction.IDP_CHANGED, reason=f"mapped_{args.role}", project_id=project_id
        )
    return 0


def cmd_idp_unmap(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    with ctx.engine.begin() as conn:
        rules = db.idp_role_rules
        gone = conn.execute(
            delete(rules).where(
                rules.c.provider == args.name,
                rules.c.claim_value == args.claim_value,
                rules.c.project_id == project_id,
            )
        ).rowcount
        if not gone:
            return _refused("no such rule")
        audit.record(conn, CLI, AccessAction.IDP_CHANGED, reason="unmapped", project_id=project_id)
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    with ctx.engine.connect() as conn:
        users = conn.execute(select(db.users).order_by(db.users.c.username)).all()
        links = conn.execute(select(db.user_identities)).all()
    providers = {link.user_id: link.provider for link in links}
    _print(
        [
            {
                "user_id": u.id,
                "username": u.username,
                "display_name": u.display_name,
                "provider": providers.get(u.id),
                "demo": bool(u.is_demo),
                "disabled": u.disabled_at is not None,
            }
            for u in users
        ]
    )
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    ctx = _ctx(args)
    user_id = provision.user_id_for(ctx.engine, args.username)
    try:
        with ctx.engine.begin() as conn:
            identity_admin.set_disabled(conn, user_id, disabled, CLI)
    except identity_admin.AdminError as exc:
        return _refused(str(exc))
    return 0


def cmd_user_admin(args: argparse.Namespace) -> int:
    """Make a person a server administrator (or, ``--remove``, no longer one)."""
    ctx = _ctx(args)
    user_id = provision.user_id_for(ctx.engine, args.username)
    with ctx.engine.begin() as conn:
        identity_admin.set_server_admin(conn, user_id, not args.remove, CLI)
    return 0


def cmd_device_list(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    with ctx.engine.connect() as conn:
        rows = identity_admin.devices(conn, args.user)
    _print([asdict(r) for r in rows])
    return 0


def cmd_device_approve(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    try:
        with ctx.engine.begin() as conn:
            identity_admin.approve_device(conn, args.device_id, args.managed, CLI)
    except identity_admin.AdminError as exc:
        return _refused(str(exc))
    return 0


def cmd_device_policy(args: argparse.Namespace) -> int:
    """Show, or change (audited), how new workstations are admitted."""
    ctx = _ctx(args)
    secret = None
    try:
        with ctx.engine.begin() as conn:
            if args.enrolment:
                enrolment.set_mode(conn, args.enrolment)
            if args.managed_claim:
                enrolment.set_managed_claim(conn, args.managed_claim)
            if args.new_secret:
                secret = enrolment.new_secret(conn)
            if args.enrolment or args.managed_claim or args.new_secret:
                audit.record(conn, CLI, AccessAction.DEVICE_CHANGED, reason="enrolment_policy")
            policy = enrolment.load(conn)
    except ValueError as exc:
        return _refused(str(exc))
    shown: dict[str, object] = {
        "enrolment": policy.mode,
        "managed_claim": policy.managed_claim or None,
        "enrolment_secret_set": bool(policy.secret_sha256),
    }
    if secret is not None:
        shown["enrolment_secret"] = secret  # shown once; only its hash is kept
    _print(shown)
    return 0


def cmd_device_revoke(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    try:
        with ctx.engine.begin() as conn:
            identity_admin.revoke_device(conn, args.device_id, CLI)
    except identity_admin.AdminError as exc:
        return _refused(str(exc))
    return 0


def cmd_project_rules(args: argparse.Namespace) -> int:
    """Show, or change (audited), a project's attribute rules."""
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    with ctx.engine.begin() as conn:
        rules = access_rules.load(conn, project_id)
        changed = dataclasses.replace(
            rules,
            hours=rules.hours if args.hours is None
            else (None if args.hours == "none" else args.hours),
            timezone=args.timezone or rules.timezone,
            managed_only=rules.managed_only if args.managed_only is None
            else args.managed_only == "yes",
            networks=rules.networks if args.networks is None
            else tuple(n.strip() for n in args.networks.split(",") if n.strip() and n != "none"),
        )  # fmt: skip
        if changed != rules:
            try:
                access_rules.save(conn, project_id, changed)
            except access_rules.RuleError as exc:
                return _refused(str(exc))
            audit.record(
                conn, CLI, AccessAction.POLICY_CHANGED, reason="access_rules",
                project_id=project_id,
            )  # fmt: skip
    print(f"project {project_id}: {access_rules.describe(changed)}")  # noqa: T201
    return 0


def add_rules_parser(
    project: Any, with_data: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    """``project rules``: attribute rules (``server.access_rules``)."""
    p = with_data(project.add_parser("rules", help="when, from where, on what audio is released"))
    p.add_argument("--project", required=True, help="project name or id")
    p.add_argument("--hours", help="e.g. 'Mon-Fri 08:00-18:00', or none")
    p.add_argument("--timezone", help="IANA zone of the hours, e.g. Europe/Berlin")
    p.add_argument("--managed-only", choices=["yes", "no"], help="managed workstations only")
    p.add_argument("--networks", help="client networks, e.g. 10.20.0.0/16,10.30.0.0/16, or none")
    p.set_defaults(func=cmd_project_rules)


def add_parser(
    sub: Any, with_data: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> Any:
    """The ``idp``, ``user`` and ``device`` command groups; returns ``user``'s subparsers."""
    group = sub.add_parser("idp", help="identity providers").add_subparsers(
        dest="idp_command", required=True
    )
    p = with_data(group.add_parser("add", help="trust an OpenID Connect provider"))
    p.add_argument("name")
    p.add_argument("--issuer", required=True, help="https:// issuer, exactly as the provider says")
    p.add_argument("--audience", required=True, help="the client id (or API) tokens are for")
    p.add_argument("--ca", help="PEM CA for the provider's TLS (default: the system store)")
    p.add_argument("--algorithms", default=",".join(idp.DEFAULT_ALGORITHMS))
    p.add_argument("--clock-skew", type=int, default=60, help="seconds (0-300)")
    p.add_argument("--username-claim", default="preferred_username")
    p.add_argument("--groups-claim", default="groups", help="e.g. groups or roles")
    p.set_defaults(func=cmd_idp_add)
    p = with_data(group.add_parser("list", help="providers and their role rules"))
    p.set_defaults(func=cmd_idp_list)
    for name, func, text in (
        ("map", cmd_idp_map, "members of a group get a role in a project"),
        ("unmap", cmd_idp_unmap, "remove such a rule"),
    ):
        p = with_data(group.add_parser(name, help=text))
        p.add_argument("name")
        p.add_argument("--claim-value", required=True)
        p.add_argument("--project", required=True)
        if name == "map":
            p.add_argument("--role", required=True, choices=[r.value for r in Role])
        p.set_defaults(func=func)

    users = sub.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    with_data(users.add_parser("list", help="every user")).set_defaults(func=cmd_user_list)
    for name, flag in (("disable", True), ("enable", False)):
        p = with_data(users.add_parser(name, help=f"{name} a user"))
        p.add_argument("username")
        p.set_defaults(func=lambda a, flag=flag: _set_disabled(a, flag))
    p = with_data(users.add_parser("admin", help="make a user a server administrator"))
    p.add_argument("username")
    p.add_argument("--remove", action="store_true", help="no longer a server administrator")
    p.set_defaults(func=cmd_user_admin)

    devices = sub.add_parser("device", help="enrolled workstations").add_subparsers(
        dest="device_command", required=True
    )
    p = with_data(devices.add_parser("list", help="devices, optionally of one user"))
    p.add_argument("--user")
    p.set_defaults(func=cmd_device_list)
    p = with_data(devices.add_parser("approve", help="approve a pending device"))
    p.add_argument("device_id")
    p.add_argument("--managed", action="store_true", help="IT vouches for the workstation")
    p.set_defaults(func=cmd_device_approve)
    p = with_data(devices.add_parser("policy", help="how new workstations are admitted"))
    p.add_argument("--enrolment", choices=list(enrolment.MODES))
    p.add_argument("--managed-claim", help="claim=value of a provider sign-in, or none")
    p.add_argument("--new-secret", action="store_true", help="a new enrolment secret for IT")
    p.set_defaults(func=cmd_device_policy)
    p = with_data(devices.add_parser("revoke", help="revoke a device; it wipes itself"))
    p.add_argument("device_id")
    p.set_defaults(func=cmd_device_revoke)
    return users

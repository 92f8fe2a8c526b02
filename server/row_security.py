"""Optional PostgreSQL row-level security keyed by project: defence in depth under the
role checks.

The role checks (``server.api.permissions``, ``server.api.task_access``) decide who
may do what; a bug that forgot one — a query without its project filter, a task id
taken from the request and not checked — would show another project's rows. With
row-level security on (``cordon-server db row-security on``), PostgreSQL itself
hides them: every transaction a request opens carries the projects its caller is a
member of (:data:`SETTING`, transaction-local), and a policy on each project's table
shows and accepts only rows of those projects.

Who sees what:

* a request, once its caller is authenticated: the projects they hold a role in
  (:func:`narrow`). A server administrator is no exception: the administrator's
  routes touch identity and membership tables, which the policies do not cover;
* a request before that (sign-in, enrolment, health): no project's rows;
* the server's own background work that needs project rows — the group committer
  and the retention rounds — every project (:data:`ALL`): the committer's thread
  enters :func:`every_project` as it begins, retention at each round. Checkpoints,
  the revocation watch and update re-signing read only tables the policies do not
  cover, so they run with no project;
* anything else outside a request depends on the process. In a serving process
  (``serve`` calls :func:`deny_outside_requests`): no project's rows, so a thread a
  request starts itself (Python does not give it the request's context) fails closed
  rather than seeing every project. In command-line tools and migrations, which
  serve no caller: every project;
* a connection that set nothing (a person with the server's credentials in
  ``psql``): no project's rows. Fail closed.

What it does not do: anyone holding the server's database credentials can set the
setting themselves, so it is no defence against a stolen password or SQL injected
into a query (Cordon builds every statement with bound parameters); PostgreSQL
does not apply it to a superuser or a role with ``BYPASSRLS``, which ``on``
refuses (as it refuses a role that does not own the tables); the tables that
define the scope (``memberships``, ``idp_role_rules``, ``users``, ``devices``,
``projects``) and the audit log's (``access_events``, ``audit_*``, guarded by
their hash chain and ``audit verify``) are not covered (:data:`NOT_COVERED`).
SQLite has no row-level security.

The setting travels in each transaction's first statement, so a process notices
``on`` or ``off`` on its next new connection: restart the server's processes after
changing it (``db row-security`` says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from server import dialect

#: The transaction-local setting that carries a transaction's projects.
SETTING = "cordon.projects"
#: The setting's value for every project (background work, tools); an empty value is
#: none (a request before authentication, unscoped work in a serving process).
ALL = "*"
#: The name of the policy on each covered table.
POLICY = "cordon_project_scope"
#: The function the policies call for a project id.
FUNCTION = "cordon_project_visible"
#: ``Connection.info`` key: this connection's database has the policies on.
_INFO_KEY = "cordon_row_security"

#: Tables whose rows name their project.
BY_PROJECT = (
    "segments",
    "tasks",
    "labels",
    "access_rules",
    "project_policies",
    "context_policies",
    "annotation_policies",
    "gold_answers",
    "gold_policies",
    "project_schemas",
    "retention_policies",
    "erasures",
)
#: Tables whose rows belong to a parent row that names its project: the parent table
#: and the column that points at it (the parent's own policy decides).
BY_PARENT = {
    "label_revisions": ("tasks", "task_id"),
    "task_transitions": ("tasks", "task_id"),
    "review_comments": ("tasks", "task_id"),
    "context_requests": ("tasks", "task_id"),
    "gold_tasks": ("tasks", "task_id"),
    "gold_scores": ("tasks", "task_id"),
    "key_grants": ("tasks", "task_id"),
    "segment_windows": ("segments", "segment_id"),
    "comparisons": ("segments", "segment_id"),
    "erasure_items": ("erasures", "erasure_id"),
}
COVERED = BY_PROJECT + tuple(BY_PARENT)
#: Tables that name a project but are not covered, and why (a test holds every table
#: that names a project, or points at a covered one, to one list or the other).
NOT_COVERED = {
    "memberships": "defines the scope: authentication reads it before there is one",
    "idp_role_rules": "identity-provider rules, read at sign-in before there is a scope",
    "access_events": "the audit log's events: guarded by the hash chain and audit verify",
}


class RowSecurityError(Exception):
    """Row-level security cannot be turned on or off here (the message says why)."""


@dataclass
class _RequestScope:
    """One request's projects (``None`` until its caller is authenticated), or the
    server's own background work (``every``)."""

    projects: frozenset[str] | None = None
    every: bool = False


_REQUEST: ContextVar[_RequestScope | None] = ContextVar("cordon_request_scope", default=None)
#: What work outside any request and any :func:`every_project` sees: every project
#: (tools, migrations, tests) until a serving process calls :func:`deny_outside_requests`.
_outside = ALL


def deny_outside_requests() -> None:
    """From now on in this process, work outside a request sees no project's rows unless
    it entered :func:`every_project` (a serving process calls it before it serves)."""
    global _outside  # noqa: PLW0603 - one setting per process, set once at start
    _outside = ""


def allow_outside_requests() -> None:
    """Undo :func:`deny_outside_requests` (tests that served in this process)."""
    global _outside  # noqa: PLW0603
    _outside = ALL


@contextmanager
def every_project() -> Iterator[None]:
    """Within it, transactions see every project: the server's own background work
    (the committer's thread, each retention round). Refused inside a request, whose
    scope it would lift (:class:`RuntimeError`: a programming error, not a refusal)."""
    scope = _REQUEST.get()
    if scope is not None and not scope.every:
        raise RuntimeError("every_project() inside a request would lift its project scope")
    token = _REQUEST.set(_RequestScope(every=True))
    try:
        yield
    finally:
        _REQUEST.reset(token)


@contextmanager
def request_scope() -> Iterator[None]:
    """Within it (one HTTP request), transactions see no project's rows until
    :func:`narrow` names the caller's.

    The scope is one mutable object in a context variable, so :func:`narrow` called
    in a dependency that runs on a worker thread (with a copy of the request's
    context) is seen by the endpoint's thread as well.
    """
    token = _REQUEST.set(_RequestScope())
    try:
        yield
    finally:
        _REQUEST.reset(token)


def narrow(projects: Iterable[str]) -> None:
    """The current request's transactions see ``projects`` (the caller's) from now on."""
    scope = _REQUEST.get()
    if scope is None or scope.every:
        return  # not a request: nothing to narrow
    chosen = frozenset(projects)
    if any("," in p or p == ALL for p in chosen):
        raise ValueError("a project id with ',' or '*' cannot be scoped")
    scope.projects = chosen


def setting_value() -> str:
    """The setting's value for a transaction begun now, on this thread."""
    scope = _REQUEST.get()
    if scope is None:
        return _outside
    if scope.every:
        return ALL
    return ",".join(sorted(scope.projects or ()))


def on_connect(dbapi_conn: Any, record: Any) -> None:
    """Remember whether this database has the policies on (part of the ``connect`` hook)."""
    row = dbapi_conn.execute(
        "SELECT relforcerowsecurity FROM pg_class WHERE oid = to_regclass('tasks')"
    ).fetchone()
    record.info[_INFO_KEY] = bool(row and row[0])


def applies(conn: Connection) -> bool:
    """This connection's database had the policies on when the connection was made."""
    return bool(conn.info.get(_INFO_KEY))


def on_begin(conn: Connection, *, along_with: str | None = None) -> None:
    """Set the transaction's projects as it begins (an engine ``begin`` hook).

    ``along_with`` is another expression the caller would have selected on its own at
    the start (the write lock): both go in one statement, one round trip.
    Through ``exec_driver_sql``, so a driver error is SQLAlchemy's like any other's
    (the ingest maps those to "audit unavailable"; a dead connection leaves the pool).
    """
    if applies(conn):
        first = f"{along_with}, " if along_with else ""
        conn.exec_driver_sql(
            f"SELECT {first}set_config(%(name)s, %(value)s, true)",
            {"name": SETTING, "value": setting_value()},
        )


def begin_writing(conn: Connection) -> None:
    """Begin a writing transaction on PostgreSQL (an engine ``begin`` hook): the write
    lock, and the transaction's projects in the same statement when they apply."""
    if applies(conn):
        on_begin(conn, along_with=dialect.WRITE_LOCK_EXPRESSION)
    else:
        dialect.begin_write(conn)


def _expression(table: str) -> str:
    """The policy's condition on ``table`` (names from this module's constants only)."""
    if table in BY_PROJECT:
        return f"{FUNCTION}({table}.project_id)"
    parent, key = BY_PARENT[table]
    # The sub-query reads the parent under its own policy: a parent out of scope is not
    # found. CASE spares work that sees everything the per-row look-up.
    found = f"EXISTS (SELECT 1 FROM {parent} p WHERE p.id = {table}.{key})"  # noqa: S608
    return f"CASE WHEN current_setting('{SETTING}', true) = '{ALL}' THEN true ELSE {found} END"


def _role(conn: Connection) -> tuple[str, bool]:
    """The connection's role, and whether PostgreSQL skips policies for it."""
    row = conn.execute(
        text(
            "SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user"
        )
    ).one()
    return str(row[0]), bool(row[1])


def _refuse_bypassing_role(conn: Connection) -> None:
    """Turning it on for a role PostgreSQL exempts would promise what it does not do."""
    role, bypassed = _role(conn)
    if bypassed:
        raise RowSecurityError(
            f"the data directory's database role {role!r} is a superuser or has BYPASSRLS: "
            "PostgreSQL does not apply row-level security to it. Let the server connect as "
            "the database's owner role (README, 'At scale'), then turn it on"
        )


def _refuse_unless_owner(conn: Connection) -> None:
    """Only the tables' owner may change their row-level security, and every covered
    table must exist: say so before any statement fails halfway (the transaction would
    undo it, with a driver's message)."""
    rows = conn.execute(
        text(
            "SELECT t.name, c.oid IS NOT NULL AS present, "
            "c.oid IS NOT NULL AND pg_has_role(current_user, c.relowner, 'USAGE') AS owned "
            "FROM unnest(CAST(:tables AS text[])) AS t(name) "
            "LEFT JOIN pg_class c ON c.oid = to_regclass(t.name) ORDER BY t.name"
        ),
        {"tables": list(COVERED)},
    ).all()
    missing = [r.name for r in rows if not r.present]
    if missing:
        raise RowSecurityError(
            f"{len(missing)} of Cordon's tables are missing ({_some(missing)}): "
            "run cordon-server db upgrade first"
        )
    foreign = [r.name for r in rows if not r.owned]
    if foreign:
        role, _ = _role(conn)
        raise RowSecurityError(
            f"the data directory's database role {role!r} does not own {len(foreign)} of "
            f"Cordon's tables ({_some(foreign)}): only their owner can change their "
            "row-level security. Let the server connect as the role that owns the schema "
            "(README, 'At scale')"
        )


def _some(names: list[str]) -> str:
    return ", ".join(names[:3]) + (", …" if len(names) > 3 else "")


def turn_on(conn: Connection) -> None:
    """Create the policies and force them on every covered table (one transaction).

    ``FORCE`` applies them to the tables' owner, the role Cordon connects as.
    """
    if conn.dialect.name != "postgresql":
        raise RowSecurityError("row-level security needs PostgreSQL; SQLite has none")
    _refuse_bypassing_role(conn)
    _refuse_unless_owner(conn)
    conn.execute(
        text(
            f"CREATE OR REPLACE FUNCTION {FUNCTION}(project text) RETURNS boolean "
            "LANGUAGE sql STABLE AS $$ "
            f"SELECT current_setting('{SETTING}', true) = '{ALL}' "
            f"OR project = ANY (string_to_array(current_setting('{SETTING}', true), ',')) $$"
        )
    )
    for table in COVERED:
        expression = _expression(table)
        conn.execute(text(f"DROP POLICY IF EXISTS {POLICY} ON {table}"))
        conn.execute(
            text(
                f"CREATE POLICY {POLICY} ON {table} USING ({expression}) WITH CHECK ({expression})"
            )
        )
        conn.execute(text(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
        conn.execute(text(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"))


def turn_off(conn: Connection) -> None:
    """Drop the policies and row-level security from every covered table."""
    if conn.dialect.name != "postgresql":
        raise RowSecurityError("row-level security needs PostgreSQL; SQLite has none")
    _refuse_unless_owner(conn)
    for table in COVERED:
        conn.execute(text(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"))
        conn.execute(text(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"))
        conn.execute(text(f"DROP POLICY IF EXISTS {POLICY} ON {table}"))
    conn.execute(text(f"DROP FUNCTION IF EXISTS {FUNCTION}(text)"))


@dataclass(frozen=True)
class Status:
    """Where row-level security stands on a database."""

    #: Covered tables with the policy, forced.
    on: tuple[str, ...]
    #: Covered tables without it (or missing).
    off: tuple[str, ...]
    role: str
    #: The role is a superuser or has BYPASSRLS: policies are not applied to it.
    bypassed: bool
    #: The function the policies call exists.
    function: bool = True

    def describe(self) -> str:
        """One line for an operator: on, off or partly, and whether it binds the role."""
        if not self.on:
            return f"off ({len(self.off)} project tables without policies; role {self.role!r})"
        if self.off or not self.function:
            missing = ", ".join(self.off) if self.off else f"the function {FUNCTION}"
            return (
                f"partly on: {len(self.on)} of {len(COVERED)} project tables; without: "
                f"{missing} (run cordon-server db row-security on)"
            )
        note = (
            f"; NOT APPLIED: role {self.role!r} is a superuser or has BYPASSRLS"
            if self.bypassed
            else f"; applied to role {self.role!r}"
        )
        return f"on ({len(self.on)} project tables{note})"


def status(conn: Connection) -> Status:
    """Which covered tables have the policy forced on, and whether the role bypasses it.

    Tables are found as the server's statements find them (the search path).
    """
    if conn.dialect.name != "postgresql":
        return Status(on=(), off=COVERED, role="(SQLite)", bypassed=False)
    rows = conn.execute(
        text(
            "SELECT t.name, c.relrowsecurity AND c.relforcerowsecurity AND EXISTS "
            "(SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = :policy) "
            "AS forced FROM unnest(CAST(:tables AS text[])) AS t(name) "
            "JOIN pg_class c ON c.oid = to_regclass(t.name)"
        ),
        {"policy": POLICY, "tables": list(COVERED)},
    ).all()
    forced = {r.name for r in rows if r.forced}
    function = conn.execute(
        text("SELECT to_regprocedure(:f) IS NOT NULL"), {"f": f"{FUNCTION}(text)"}
    ).scalar_one()
    role, bypassed = _role(conn)
    return Status(
        on=tuple(t for t in COVERED if t in forced),
        off=tuple(t for t in COVERED if t not in forced),
        role=role,
        bypassed=bypassed,
        function=bool(function),
    )

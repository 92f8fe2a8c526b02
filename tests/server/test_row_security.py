"""Row-level security keyed by project (``cordon-server db row-security``) on a real
PostgreSQL server, connected as the database's owner as the README's recipe makes it.

The probe route below reads every task with no project filter — the bug the policies
are there for. With them on, each caller sees only their projects' tasks; with them off,
the same probe shows every project's, so these tests can fail.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

import psycopg
import pytest
import uvicorn
from sqlalchemy import Connection, Engine, Table, delete, func, insert, make_url, select, text
from sqlalchemy.exc import ProgrammingError

from app.crypto.device_keys import DeviceKeyPair
from app.wire.schemas import Role
from devtools.postgres import OWNER_ROLE, new_database, owned_database
from devtools.synthetic_audio import write_audio
from server import assignment, connection_guard, db, dialect, provision, retention, row_security
from server import serve as serve_module
from server.api.app import create_app
from server.api.principal import Ctx, CurrentPrincipal
from server.audit import Actor
from server.cli import main as server_main
from server.context import ServerContext, open_context
from server.datadir import DataDir
from server.demo import setup_demo
from server.ingest import ensure_project, ingest_file
from tests.fixtures import ProvingClient, enroll, label, login


@dataclass
class World:
    ctx: ServerContext
    client: ProvingClient
    project_a: str
    project_b: str
    task_b: str


def _init(root: Path, database: str) -> DataDir:
    assert server_main(["init", "--data-dir", str(root), "--database", database]) == 0
    return DataDir(root)


def _tasks_by_project(conn_engine: Engine) -> set[str]:
    with conn_engine.connect() as conn:
        return {str(p) for p in conn.execute(select(db.tasks.c.project_id).distinct()).scalars()}


def _probe_app(ctx: ServerContext) -> ProvingClient:
    """The server's app and one route that forgot its project filter."""
    app = create_app(ctx)

    def every_task(principal: CurrentPrincipal, ctx: Ctx) -> dict[str, list[str]]:
        del principal  # authenticated, and nothing checked beyond that: the bug
        return {"projects": sorted(_tasks_by_project(ctx.engine))}

    app.add_api_route("/v1/probe/every-task", every_task, methods=["GET"])
    return ProvingClient(app, client=("127.0.0.1", 50000))


def _world(root: Path, database: str) -> World:
    data = _init(root / "data", database)
    assert server_main(["db", "row-security", "on", "--data-dir", str(data.root)]) == 0
    ctx = open_context(data, demo_login=True)
    audio = root / "audio"
    audio.mkdir()
    write_audio(audio / "a.wav", 1.0, 8000, 1, seed=1)
    demo = setup_demo(ctx, audio)
    project_b = ensure_project(ctx.engine, ctx.vault, "Project B")
    write_audio(root / "b.wav", 1.0, 8000, 1, seed=2)
    segment_b = ingest_file(ctx.data, ctx.engine, ctx.vault, project_b, root / "b.wav").segment_id
    b_user = provision.ensure_user(ctx.engine, "b_annotator", "B", demo=True)
    provision.set_membership(ctx.engine, b_user, project_b, Role.ANNOTATOR)
    provision.ensure_user(ctx.engine, "outsider", "Nobody's member", demo=True)
    with ctx.engine.begin() as conn:
        task_b = assignment.assign(conn, segment_b, b_user, Actor(None)).task_id
    return World(ctx, _probe_app(ctx), demo.project_id, project_b, task_b)


@pytest.fixture
def world(postgres: str, tmp_path: Path) -> Iterator[World]:
    made = _world(tmp_path, owned_database(postgres))
    yield made
    made.ctx.engine.dispose()


def _row_security(root: Path, state: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = server_main(["db", "row-security", state, "--data-dir", str(root)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_route_that_forgot_its_project_filter_shows_each_caller_only_their_projects(
    world: World,
) -> None:
    seen = {
        who: world.client.get("/v1/probe/every-task", headers=login(world.client, who)).json()
        for who in ("annotator", "b_annotator", "outsider")
    }
    assert seen == {
        "annotator": {"projects": [world.project_a]},
        "b_annotator": {"projects": [world.project_b]},
        "outsider": {"projects": []},
    }
    # Work that is not a request (the committer, retention, the tools) sees every project.
    assert _tasks_by_project(world.ctx.engine) == {world.project_a, world.project_b}


def test_with_it_off_the_same_probe_shows_every_project(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = _row_security(world.ctx.data.root, "off", capsys)
    assert code == 0, said
    assert "row-level security off (" in said
    restarted = open_context(world.ctx.data, demo_login=True)  # a process notices at start
    try:
        client = _probe_app(restarted)
        answer = client.get("/v1/probe/every-task", headers=login(client, "annotator")).json()
        assert answer == {"projects": sorted([world.project_a, world.project_b])}
    finally:
        restarted.engine.dispose()


def test_the_real_routes_answer_as_before_for_members(world: World) -> None:
    """An annotator's whole path — key grant, the recording, a label revision, reading it
    back — works under the policies (the task-keyed tables included)."""
    headers = enroll(world.client, login(world.client, "annotator"), DeviceKeyPair.generate())
    tasks = world.client.get("/v1/tasks", headers=headers).json()["tasks"]
    assert len(tasks) == 1
    task = tasks[0]["task_id"]
    answers = [
        world.client.post(f"/v1/tasks/{task}/key-grant", headers=headers),
        world.client.get(f"/v1/tasks/{task}/segment", headers=headers),
        world.client.post(f"/v1/tasks/{task}/labels", json=label("lbl-rls-0001"), headers=headers),
        world.client.get(f"/v1/tasks/{task}/labels/latest", headers=headers),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200], [a.text for a in answers]
    assert len(answers[1].content) > 0


def test_a_connection_that_sets_nothing_sees_no_project_rows(world: World) -> None:
    a_user = provision.user_id_for(world.ctx.engine, "annotator")
    a_task = next(iter(_task_ids(world.ctx.engine, world.project_a)))
    with world.ctx.engine.begin() as conn:  # a row kept through a task, as work outside requests
        conn.execute(insert(db.task_transitions).values(_transition(a_task, a_user, 801)))
    tables = ("tasks", "segments", "task_transitions", "users")
    with world.ctx.engine.connect() as conn:  # every project: the rows are there
        there = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}  # noqa: S608 - names above
    url = world.ctx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as raw:
        seen = {t: raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # type: ignore[index]  # noqa: S608 - names above
    assert min(there.values()) > 0, there
    assert seen == {"tasks": 0, "segments": 0, "task_transitions": 0, "users": there["users"]}


def _task_ids(engine: Engine, project: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(db.tasks.c.id).where(db.tasks.c.project_id == project))
        return {str(r) for r in rows.scalars()}


def test_a_request_scope_hides_and_refuses_other_projects_rows(world: World) -> None:
    engine = world.ctx.engine
    with row_security.request_scope():
        assert _tasks_by_project(engine) == set()  # not yet authenticated
        row_security.narrow([world.project_a])
        assert _tasks_by_project(engine) == {world.project_a}
        with engine.connect() as conn:
            b_rows = conn.execute(
                select(func.count())
                .select_from(db.segments)
                .where(db.segments.c.project_id == world.project_b)
            ).scalar_one()
        assert b_rows == 0
        with pytest.raises(ProgrammingError, match="row-level security"), engine.begin() as conn:
            conn.execute(
                insert(db.project_policies).values(
                    project_id=world.project_b,
                    submit_coverage=False,
                    accept_coverage=0,
                    updated_at=0,
                )
            )


def test_on_and_off_are_audited_and_status_says_where_it_stands(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    root = world.ctx.data.root
    code, said = _row_security(root, "status", capsys)
    assert code == 0
    assert (
        f"on ({len(row_security.COVERED)} project tables; applied to role '{OWNER_ROLE}')" in said
    )
    assert _row_security(root, "off", capsys)[0] == 0
    assert "row-level security off (" in _row_security(root, "status", capsys)[1]
    assert _row_security(root, "on", capsys)[0] == 0
    with world.ctx.engine.connect() as conn:
        reasons = (
            conn.execute(
                select(db.access_events.c.reason)
                .where(db.access_events.c.action == "row_security_changed")
                .order_by(db.access_events.c.seq)
            )
            .scalars()
            .all()
        )
    assert reasons == ["on", "off", "on"]


def test_a_superuser_role_is_refused_and_nothing_changes(
    postgres: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _init(tmp_path / "data", new_database(postgres))  # connects as postgres
    code, said = _row_security(data.root, "on", capsys)
    assert code == 2
    assert "superuser" in said and "nothing was changed" in said
    assert "row-level security off (" in _row_security(data.root, "status", capsys)[1]


def test_sqlite_has_none_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    assert server_main(["init", "--data-dir", str(root)]) == 0
    code, said = _row_security(root, "on", capsys)
    assert code == 2
    assert "needs PostgreSQL" in said
    assert "row-level security off (" in _row_security(root, "status", capsys)[1]


def test_a_writing_transaction_still_takes_the_write_lock_with_its_scope(world: World) -> None:
    """With the policies on, the write lock and the scope share the first statement."""
    held = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND pid = pg_backend_pid() AND classid = 0 AND objid = :lock AND objsubid = 1"
    )
    for scoped in (False, True):
        with contextlib.ExitStack() as stack:
            if scoped:
                stack.enter_context(row_security.request_scope())
                row_security.narrow([world.project_a])
            with world.ctx.writer.begin() as conn:
                assert conn.execute(held, {"lock": dialect.WRITE_LOCK}).scalar_one() == 1
                seen = conn.execute(text("SELECT current_setting('cordon.projects')")).scalar_one()
            assert seen == (world.project_a if scoped else row_security.ALL)


def _transition(task_id: str, actor_id: str, seq: int) -> dict[str, object]:
    return {
        "id": f"tt-{seq}", "task_id": task_id, "seq": seq, "step": "claim",
        "from_status": "assigned", "to_status": "in_progress", "actor_id": actor_id,
        "actor_role": "annotator", "created_at": 0,
    }  # fmt: skip


def test_rows_kept_through_a_task_follow_its_projects_scope(world: World) -> None:
    engine = world.ctx.engine
    b_user = provision.user_id_for(engine, "b_annotator")
    with engine.begin() as conn:  # work that is not a request: every project
        conn.execute(insert(db.task_transitions).values(_transition(world.task_b, b_user, 901)))

    def count() -> int:
        where = db.task_transitions.c.task_id == world.task_b
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(db.task_transitions).where(where)
                ).scalar_one()
            )

    assert count() == 1
    with row_security.request_scope():
        row_security.narrow([world.project_a])
        assert count() == 0
        with pytest.raises(ProgrammingError, match="row-level security"), engine.begin() as conn:
            conn.execute(insert(db.task_transitions).values(_transition(world.task_b, b_user, 902)))
        with engine.begin() as conn:  # out of scope, a DELETE finds nothing to delete
            removed = conn.execute(
                delete(db.task_transitions).where(db.task_transitions.c.task_id == world.task_b)
            ).rowcount
        assert removed == 0
    with row_security.request_scope():
        row_security.narrow([world.project_b])
        assert count() == 1


def test_the_scope_ends_with_its_transaction(world: World) -> None:
    """Transaction-local: the pooled connection keeps nothing for the next request."""
    with row_security.request_scope():
        row_security.narrow([world.project_a])
        with world.ctx.engine.connect() as conn:
            setting = text(f"SELECT current_setting('{row_security.SETTING}', true)")
            assert conn.execute(setting).scalar_one() == world.project_a  # set for this one
            conn.commit()
            raw = conn.connection.dbapi_connection  # the same connection, no begin hook
            assert raw is not None
            left = raw.execute(f"SELECT current_setting('{row_security.SETTING}', true)")
            value = left.fetchone()
            raw.rollback()
    assert value is not None and value[0] in {"", None}


def test_a_role_that_does_not_own_the_tables_is_refused_and_nothing_changes(
    postgres: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The schema made by a superuser, the server pointed at another (owner-less) role."""
    database = new_database(postgres)
    data = _init(tmp_path / "data", database)
    owned_database(postgres)  # makes the login role if this server has none yet
    url = data.database_url_path.read_text().strip()
    data.database_url_path.write_text(url.replace("://postgres@", f"://{OWNER_ROLE}@") + "\n")
    for state in ("on", "off"):
        code, said = _row_security(data.root, state, capsys)
        assert code == 2, said
        assert f"'{OWNER_ROLE}' does not own 22 of" in said
        assert "nothing was changed" in said
    assert "row-level security off (" in _row_security(data.root, "status", capsys)[1]


def test_a_database_missing_tables_is_refused_and_nothing_changes(
    postgres: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = owned_database(postgres)
    data = _init(tmp_path / "data", database)
    url = make_url(data.database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as raw:
        raw.execute("DROP TABLE gold_scores")  # as if made by a Cordon before that table
    code, said = _row_security(data.root, "on", capsys)
    assert code == 2, said
    assert "1 of Cordon's tables are missing (gold_scores)" in said
    assert "row-level security off (" in _row_security(data.root, "status", capsys)[1]


def _names_a_project(table: Table) -> bool:
    covered = set(row_security.COVERED) | {"projects"}
    return "project_id" in table.c or any(
        fk.column.table.name in covered for fk in table.foreign_keys
    )


def test_every_table_that_names_a_project_is_covered_or_says_why_not() -> None:
    """A new table holding a project's rows must join the policies (or be exempted)."""
    tables = {t.name: t for t in db.metadata.tables.values()}
    naming = {name for name, table in tables.items() if _names_a_project(table)}
    assert naming == set(row_security.COVERED) | set(row_security.NOT_COVERED)
    assert len(row_security.COVERED) == 22
    for name in row_security.BY_PROJECT:
        assert "project_id" in tables[name].c
    for name, (parent, key) in row_security.BY_PARENT.items():
        assert {fk.column.table.name for fk in tables[name].c[key].foreign_keys} == {parent}


@contextlib.contextmanager
def _as_when_serving() -> Iterator[None]:
    """Outside requests as in a serving process (``serve`` denies), restored afterwards."""
    row_security.deny_outside_requests()
    try:
        yield
    finally:
        row_security.allow_outside_requests()


@pytest.fixture
def serving(world: World) -> Iterator[None]:
    """:func:`_as_when_serving`, after ``world`` is made (making it needs every project,
    as the CLI has)."""
    del world
    with _as_when_serving():
        yield


def _thread_result(work: Callable[[], set[str]]) -> set[str]:
    """``work`` on a thread of its own (Python gives it none of the caller's context)."""
    out: list[set[str]] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            out.append(work())
        except BaseException as exc:  # noqa: BLE001 - raised again on the test's thread
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the thread did not finish in 30 s"
    if failed:
        raise failed[0]
    return out[0]


def _probe_thread_app(ctx: ServerContext) -> ProvingClient:
    """A route that hands its unfiltered read to a thread it starts itself."""
    app = create_app(ctx)

    def every_task_on_a_thread(principal: CurrentPrincipal, ctx: Ctx) -> dict[str, list[str]]:
        del principal
        return {"projects": sorted(_thread_result(lambda: _tasks_by_project(ctx.engine)))}

    app.add_api_route("/v1/probe/thread", every_task_on_a_thread, methods=["GET"])
    return ProvingClient(app, client=("127.0.0.1", 50000))


def test_a_thread_a_request_starts_sees_every_project_in_tools_and_none_when_serving(
    world: World,
) -> None:
    client = _probe_thread_app(world.ctx)
    headers = login(client, "annotator")
    before = client.get("/v1/probe/thread", headers=headers).json()
    assert before == {"projects": sorted([world.project_a, world.project_b])}  # the hole
    with _as_when_serving():
        after = client.get("/v1/probe/thread", headers=headers).json()
        assert _tasks_by_project(world.ctx.engine) == set()  # any unscoped work, not only threads
        with row_security.every_project():
            assert _tasks_by_project(world.ctx.engine) == {world.project_a, world.project_b}
        # A request's scope is its own: every_project() refuses to lift it.
        with row_security.request_scope():
            row_security.narrow([world.project_a])
            with (
                pytest.raises(RuntimeError, match="inside a request"),
                row_security.every_project(),
            ):
                pass
            assert _tasks_by_project(world.ctx.engine) == {world.project_a}
    assert after == {"projects": []}


class _PeekJob:
    """A group job that notes which projects' tasks its group's transaction sees."""

    seen: ClassVar[list[set[str]]] = []

    def prepare(self, conn: Connection) -> None:
        del conn

    @classmethod
    def apply_group(cls, conn: Connection, jobs: Sequence[Self], *, retried: bool) -> list[object]:
        del retried
        projects = conn.execute(select(db.tasks.c.project_id).distinct()).scalars()
        cls.seen.append({str(p) for p in projects})
        return [None for _ in jobs]


def test_the_servers_own_background_work_sees_every_project_when_serving(
    world: World, serving: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    both = {world.project_a, world.project_b}
    _PeekJob.seen.clear()
    world.ctx.committer.run(_PeekJob())  # its thread, started here, in a context of its own
    world.ctx.committer.stop()
    assert _PeekJob.seen == [both]

    def peek_run(ctx: ServerContext, **_: object) -> list[object]:
        _PeekJob.seen.append(_tasks_by_project(ctx.engine))
        return []

    monkeypatch.setattr(retention, "run", peek_run)
    _thread_result(lambda: retention.RetentionThread._apply(world.ctx) or set())
    assert _PeekJob.seen == [both, both]
    assert _thread_result(lambda: _tasks_by_project(world.ctx.engine)) == set()


def test_serve_denies_work_outside_requests_before_it_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring: by the time uvicorn would serve, unscoped work sees no project."""
    assert server_main(["init", "--data-dir", str(tmp_path / "data")]) == 0
    ctx = open_context(DataDir(tmp_path / "data"))
    seen: list[str] = []
    sockets: list[socket.socket] = []

    def bind(host: str, port: int) -> socket.socket:
        sockets.append(socket.create_server((host, port)))
        return sockets[-1]

    monkeypatch.setattr(serve_module, "bind", bind)
    monkeypatch.setattr(connection_guard, "_limits", connection_guard._limits)  # restored after
    monkeypatch.setattr(
        uvicorn.Server, "run", lambda *_, **__: seen.append(row_security.setting_value())
    )
    monkeypatch.setattr(gc, "freeze", lambda: None)  # not the test process's objects
    try:
        assert row_security.setting_value() == row_security.ALL
        serve_module.serve(ctx, "127.0.0.1", 0)
    finally:
        row_security.allow_outside_requests()
        for sock in sockets:
            sock.close()
        for engine in (ctx.engine, ctx.writer):
            engine.dispose()
    assert seen == [""]

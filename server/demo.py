"""The demo project: demo users, a project and the shipped speech recordings.

Idempotent: running ``cordon-server demo`` again on the same data directory
reuses what is there; a recording is ingested once (by its title), so a
recording added to the audio directory later is picked up on the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from app.wire.schemas import Role
from server import assignment, audit, db, gold, project_schemas, provision, segment_meta, windows
from server.comparisons import ingest_comparison, read_manifest
from server.context import ServerContext
from server.demo_accepted import accept_demo_work
from server.ingest import ensure_project, ingest_file

DEMO_PROJECT = "Demo call centre"
DEMO_ANNOTATOR = "annotator"
DEMO_REVIEWER = "reviewer"
#: A second annotator: the demo's double-annotated recording is theirs too (blind).
DEMO_SECOND_ANNOTATOR = "annotator2"
DOUBLE_ANNOTATED = "clinic-dictation"
#: Bo also gets only a stretch of a call (least exposure): title, start s, end s.
WINDOWED = ("pharmacy-refill-call", 5.0, 12.0)
#: Reads the project's quality report (Ctrl+Shift+P); sees no task and no content.
DEMO_MANAGER = "manager"
DEFAULT_AUDIO_DIR = Path(__file__).resolve().parent.parent / "resources" / "demo"
#: Two call-centre speakers (agent left, customer right), a few labels, PII categories.
DEMO_SCHEMA = DEFAULT_AUDIO_DIR / "schema.json"
#: RLHF comparisons are manifests in ``<audio dir>/comparisons`` (the shipped demo has one
#: of each kind, pairwise and ranking).
COMPARISONS = "comparisons"
#: Known answers (``<title>.json``, a label document): each such recording is not
#: assigned but becomes a gold answer, mixed into annotators' queues at ``GOLD_RATE``.
GOLD = "gold"
#: With five real tasks, the demo annotator gets one gold task (see server.gold.due).
GOLD_RATE = 20
AUDIO_SUFFIXES = frozenset({".flac", ".wav", ".ogg", ".mp3"})
#: Whose recording each demo file is (invented ids): ``cordon-server erase --subject``
#: finds them by these. Kept only as a keyed digest.
DEMO_SUBJECTS = {
    "bank-fraud-call-stereo": "CUST-1001",
    "pharmacy-refill-call": "CUST-1002",
    "clinic-dictation": "PAT-2001",
    "referral-note": "PAT-2002",
}


@dataclass(frozen=True)
class DemoSetup:
    project_id: str
    annotator_id: str
    reviewer_id: str
    task_ids: list[str]


def setup_demo(ctx: ServerContext, audio_dir: Path = DEFAULT_AUDIO_DIR) -> DemoSetup:
    """Create (or find) the demo project and assign every shipped recording and comparison."""
    engine = ctx.engine
    project_id = ensure_project(engine, ctx.vault, DEMO_PROJECT)
    annotator = provision.ensure_user(engine, DEMO_ANNOTATOR, "Ada (demo annotator)", demo=True)
    reviewer = provision.ensure_user(engine, DEMO_REVIEWER, "Rui (demo reviewer)", demo=True)
    provision.set_membership(engine, annotator, project_id, Role.ANNOTATOR)
    provision.set_membership(engine, reviewer, project_id, Role.REVIEWER)
    second = provision.ensure_user(engine, DEMO_SECOND_ANNOTATOR, "Bo (demo annotator)", demo=True)
    provision.set_membership(engine, second, project_id, Role.ANNOTATOR)
    manager = provision.ensure_user(engine, DEMO_MANAGER, "Mo (demo manager)", demo=True)
    provision.set_membership(engine, manager, project_id, Role.MANAGER)
    project_schemas.apply_schema(
        engine, project_id, project_schemas.read_file(DEMO_SCHEMA), audit.Actor(None, None, "demo")
    )
    with engine.connect() as conn:
        project_key = conn.execute(
            select(db.projects.c.wrapped_key).where(db.projects.c.id == project_id)
        ).scalar_one()
        ingested = {
            segment_meta.title(ctx.vault, project_id, project_key, row)
            for row in conn.execute(
                select(db.segments).where(db.segments.c.project_id == project_id)
            )
        }
    actor = audit.Actor(None, None, "demo")
    files = sorted(p for p in audio_dir.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    answers = {p.stem: p for p in (audio_dir / GOLD).glob("*.json")}
    for path in files:
        if path.stem[:256] in ingested:
            continue  # ingested by an earlier run
        seg = ingest_file(
            ctx.data, engine, ctx.vault, project_id, path, subject=DEMO_SUBJECTS.get(path.stem)
        )
        with engine.begin() as conn:
            if path.stem in answers:
                document = gold.read_answer(conn, seg.segment_id, answers[path.stem].read_bytes())
                gold.add_answer(conn, ctx.vault, seg.segment_id, document, actor)
            else:
                assignment.assign(conn, seg.segment_id, annotator, actor)
    for manifest in sorted((audio_dir / COMPARISONS).glob("*.json")):
        if read_manifest(manifest).title in ingested:
            continue
        seg = ingest_comparison(ctx.data, engine, ctx.vault, project_id, manifest)
        with engine.begin() as conn:
            assignment.assign(conn, seg.segment_id, annotator, actor)
    _double_annotate(ctx, project_id, DOUBLE_ANNOTATED, second)
    # Bo's finished work on the bank call: accepted, with planted PII, ready to export.
    accept_demo_work(ctx, project_id, audio_dir, second, reviewer)
    _window(ctx, project_id, WINDOWED, second)
    with engine.begin() as conn:
        if answers and gold.load_rate(conn, project_id) == 0:
            assignment.set_gold_rate(conn, project_id, GOLD_RATE, actor)
    with engine.connect() as conn:
        task_ids = list(
            conn.execute(
                select(db.tasks.c.id)
                .where(db.tasks.c.project_id == project_id)
                .order_by(db.tasks.c.created_at, db.tasks.c.id)
            ).scalars()
        )
    return DemoSetup(project_id, annotator, reviewer, task_ids)


def _window(
    ctx: ServerContext, project_id: str, window: tuple[str, float, float], user_id: str
) -> None:
    """Give a stretch of a recording (if the demo has it) to ``user_id``, once."""
    title, start, end = window
    segment_id = provision.segment_titled(ctx.engine, ctx.vault, project_id, title)
    if segment_id is not None:
        _assign_once(ctx.engine, windows.cut(ctx, segment_id, start, end).segment_id, user_id)


def _double_annotate(ctx: ServerContext, project_id: str, title: str, user_id: str) -> None:
    """Give ``title`` (if the demo has it) to a second annotator, once."""
    segment_id = provision.segment_titled(ctx.engine, ctx.vault, project_id, title)
    if segment_id is not None:
        _assign_once(ctx.engine, segment_id, user_id)


def _assign_once(engine: Engine, segment_id: str, user_id: str) -> None:
    with engine.begin() as conn:
        if not assignment.has_task_on(conn, segment_id, user_id):
            assignment.assign(conn, segment_id, user_id, audit.Actor(None, None, "demo"))

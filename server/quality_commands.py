"""What a project's quality lead runs on the data directory: report, task assignment, gold.

``cordon-server report --project P``
    the quality report (aggregates only) as JSON.
``cordon-server task assign --project P --title T --to USER [--window START:END]``
    another task on a recording (blind double annotation), or on only a stretch of it
    (the window is cut and sealed on its own; nothing else of the recording is sent);
    gold top-up after it.
``cordon-server task reassign --task ID --to USER``
    hand a task that is not in review or accepted to another annotator.
``cordon-server gold add --project P (--from-task ID | --title T --answer FILE)``
    a recording's known answer: an accepted task's document, or a label document file
    checked like a hand-in. ``gold list`` shows ids and counts; ``gold retire`` stops
    handing an answer out. ``project policy --gold-rate PCT`` sets the mix.

Every change is audited by the functions it calls (actor ``cli``); a refusal prints
why on stderr, exits 2 and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server import assignment, audit, db, gold, provision, report, windows
from server.context import open_context
from server.datadir import DataDir

CLI = audit.Actor(None, None, "cli")


def _ctx(args: argparse.Namespace) -> Any:
    return open_context(DataDir(Path(args.data_dir).resolve()))


def _refused(exc: Exception) -> int:
    print(f"cordon-server: {exc}; nothing was changed", file=sys.stderr)  # noqa: T201
    return 2


def _segment_titled(ctx: Any, project_id: str, title: str) -> str:
    segment_id = provision.segment_titled(ctx.engine, ctx.vault, project_id, title)
    if segment_id is None:
        raise provision.ProvisionError(f"no recording titled {title!r} in the project")
    return segment_id


def cmd_report(args: argparse.Namespace) -> int:
    """Print the project's quality report (aggregates only) as JSON; audited."""
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    body = report.project_report(ctx, project_id, CLI)
    print(body.model_dump_json(indent=2))  # noqa: T201
    return 0


def cmd_task_assign(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    user_id = provision.user_id_for(ctx.engine, args.to)
    segment_id = _segment_titled(ctx, project_id, args.title)
    title = args.title
    try:
        if args.window:
            start, end = _window(args.window)
            with ctx.engine.connect() as conn:  # before cutting: a refusal leaves no window
                assignment.check_annotator(conn, project_id, user_id)
            cut = windows.cut(ctx, segment_id, start, end)
            segment_id, title = cut.segment_id, cut.title
        with ctx.engine.begin() as conn:
            task_id = assignment.assign(conn, segment_id, user_id, CLI).task_id
    except (assignment.AssignmentError, windows.WindowError) as exc:
        return _refused(exc)
    print(f"task {task_id}: {title} assigned to {args.to}")  # noqa: T201
    return 0


def _window(text: str) -> tuple[float, float]:
    try:
        start, end = (float(part) for part in text.split(":"))
    except ValueError as exc:
        raise windows.WindowError("--window is START:END in seconds, e.g. 60:90") from exc
    return start, end


def cmd_task_reassign(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    user_id = provision.user_id_for(ctx.engine, args.to)
    try:
        with ctx.engine.begin() as conn:
            assignment.reassign(conn, args.task, user_id, CLI)
    except assignment.AssignmentError as exc:
        return _refused(exc)
    print(f"task {args.task}: now with {args.to}")  # noqa: T201
    return 0


def cmd_gold_add(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    try:
        with ctx.engine.begin() as conn:
            if args.from_task:
                task = conn.execute(select(db.tasks).where(db.tasks.c.id == args.from_task)).first()
                if task is None or task.project_id != project_id:
                    raise gold.GoldError(f"no task {args.from_task} in the project")
                gold_id = gold.add_from_task(conn, ctx.vault, args.from_task, CLI)
            else:
                if not args.title:
                    raise gold.GoldError("--answer needs the recording's --title")
                segment_id = _segment_titled(ctx, project_id, args.title)
                document = gold.read_answer(conn, segment_id, Path(args.answer).read_bytes())
                gold_id = gold.add_answer(conn, ctx.vault, segment_id, document, CLI)
            made = assignment.top_up_project(conn, project_id, CLI)
    except (gold.GoldError, provision.ProvisionError, OSError) as exc:
        return _refused(exc)
    print(f"gold answer {gold_id}; {len(made)} gold task(s) handed out")  # noqa: T201
    return 0


def cmd_gold_list(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    project_id = provision.project_id_for(ctx.engine, args.project)
    with ctx.engine.connect() as conn:
        rows = [asdict(a) for a in gold.answers(conn, ctx.vault, project_id)]
        rate = gold.load_rate(conn, project_id)
    print(json.dumps({"project_id": project_id, "gold_rate": rate, "answers": rows}, indent=2))  # noqa: T201
    return 0


def cmd_gold_retire(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    try:
        with ctx.engine.begin() as conn:
            gold.retire(conn, args.gold, CLI)
    except gold.GoldError as exc:
        return _refused(exc)
    print(f"gold answer {args.gold}: retired")  # noqa: T201
    return 0


def add_parser(sub: Any, with_data: Callable[[Any], Any]) -> None:
    p = with_data(sub.add_parser("report", help="a project's quality report, as JSON"))
    p.add_argument("--project", required=True, help="project name or id")
    p.set_defaults(func=cmd_report)
    task = sub.add_parser("task", help="tasks").add_subparsers(dest="task_command", required=True)
    p = with_data(task.add_parser(
        "assign", help="assign a recording to one more annotator (blind double annotation)"
    ))  # fmt: skip
    p.add_argument("--project", required=True, help="project name or id")
    p.add_argument("--title", required=True, help="the recording's title")
    p.add_argument("--to", required=True, help="username of an annotator of the project")
    p.add_argument(
        "--window", metavar="START:END", help="only this stretch of the recording, in seconds"
    )
    p.set_defaults(func=cmd_task_assign)
    p = with_data(task.add_parser("reassign", help="hand a task to another annotator"))
    p.add_argument("--task", required=True, help="task id")
    p.add_argument("--to", required=True, help="username of an annotator of the project")
    p.set_defaults(func=cmd_task_reassign)
    golds = sub.add_parser("gold", help="gold answers (known-answer tasks)").add_subparsers(
        dest="gold_command", required=True
    )
    p = with_data(golds.add_parser("add", help="make a recording's known answer"))
    p.add_argument("--project", required=True, help="project name or id")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-task", help="an accepted task whose document is the answer")
    source.add_argument("--answer", help="a label document (JSON) for the recording --title")
    p.add_argument("--title", help="with --answer: the recording's title")
    p.set_defaults(func=cmd_gold_add)
    p = with_data(golds.add_parser("list", help="a project's gold answers: ids and counts"))
    p.add_argument("--project", required=True, help="project name or id")
    p.set_defaults(func=cmd_gold_list)
    p = with_data(golds.add_parser("retire", help="hand a gold answer out no more"))
    p.add_argument("--gold", required=True, help="gold answer id")
    p.set_defaults(func=cmd_gold_retire)

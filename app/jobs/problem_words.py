"""A document problem as the user reads it: which segment (by time), what is wrong."""

from __future__ import annotations

from app.services.annotation import DocumentEditor


def problem_words(editor: DocumentEditor, path: str, message: str, count: int) -> str:
    """A problem as the annotator reads it: which segment (by time), what is wrong."""
    where = "The task"
    if path.startswith("$.segments["):
        index = int(path[len("$.segments[") : path.index("]")])
        if index < len(editor):
            seconds = editor.segments[index].start / editor.rate
            where = f"Segment {index + 1} (at {int(seconds // 60)}:{seconds % 60:05.2f})"
    elif path.startswith("$.preference"):
        where = "Your preference (Ctrl+1 to Ctrl+7)"
    elif path.startswith("$.ranking"):
        where = "The ranking (move outputs, or Alt+K to keep the order shown)"
    elif path.startswith("$.fields."):
        name = path[len("$.fields.") :].split("[", maxsplit=1)[0]
        spec = editor.schema.task_label(name)
        where = f"The task field '{spec.title if spec else name}'"
    more = f" ({count - 1} more)" if count > 1 else ""
    return f"Not submitted: {where}: {message}.{more}"


def _clock(ms: int) -> str:
    seconds = ms / 1000
    return f"{int(seconds // 60)}:{seconds % 60:05.2f}"


def unheard_words(gaps: list[tuple[int, int]], action: str) -> str:
    """Audio still to be heard before ``action`` ("hand it in", "accept it")."""
    shown = ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in gaps[:3])
    more = f" and {len(gaps) - 3} more" if len(gaps) > 3 else ""
    return (f"Listen first: {len(gaps)} part(s) not heard yet ({shown}{more}), marked orange "
            f"on the waveform. The project asks for it before you {action}.")  # fmt: skip

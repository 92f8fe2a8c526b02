"""Composition root: builds every object once and connects signals both ways.

``cordon --server https://host:port --ca /path/to/ca.pem``, or plain ``cordon`` where
the machine policy names the server (``server_url``, ``server_ca_file``).
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.api.client import CordonApi
from app.auth.authenticator import Authenticator
from app.auth.demo_login import DemoAuthenticator
from app.auth.sso import MsalAuthenticator, SsoSettings
from app.domain.models import AccessEvent, User
from app.jobs.controller import Controller
from app.jobs.lockdown import LockdownController
from app.jobs.update_ops import UpdateOps, update_ops_for
from app.jobs.work_choice import WorkChoice
from app.lockdown.capture_guard import CaptureGuard, guard_for
from app.lockdown.hardening import harden_process
from app.lockdown.policy import Policy, PolicyError
from app.lockdown.policy_sources import MachineReader, load_policy
from app.lockdown.startup import ServerChoiceError, server_target, start_refusal
from app.player.playback import (
    AUDIO_SWITCH_INTERVAL_S,
    PlaybackEngine,
    StreamFactory,
    sounddevice_stream,
)
from app.services.annotation import DocumentEditor
from app.services.comparisons import ComparisonService, OpenedComparison
from app.services.device_store import (
    DeviceStore,
    KeyringTokenCache,
    KeyringUnavailableError,
    OutboxKeyStore,
    check_backend,
    server_identity,
    state_dir,
    use_os_keyring,
)
from app.services.drafts import DraftStore
from app.services.events import EventRecorder
from app.services.labels import LabelService
from app.services.outbox import Outbox, OutboxBusyError
from app.services.segments import OpenedSegment, SegmentService
from app.services.session import SessionService
from app.services.wipe import WipeReport, wipe_workstation
from app.ui import draft_conflict
from app.ui.accessibility import install_redaction
from app.ui.comparison_panel import RankingList
from app.ui.lockdown_filter import LockdownFilter
from app.ui.main_window import MainWindow
from app.ui.pii_suggestions import SuggestionList
from app.ui.pii_wiring import wire_pii_suggestions
from app.ui.policy_dialog import PolicyDialog
from app.ui.quit_signals import quit_on_signals
from app.ui.review_panel import CommentList, DiffView
from app.ui.review_wiring import wire_review
from app.ui.segment_table import SegmentTable
from app.ui.task_list import TaskList
from app.ui.transcript_editor import InAppClipboard, TranscriptEditor, release_clipboard
from app.ui.update_prompt import wire_updates
from app.ui.waveform_view import WaveformView
from app.wire.schemas import AccessAction, Outcome

logger = logging.getLogger("cordon")
#: How long a lockdown notice (a blocked copy or paste) stays in the status bar.
NOTICE_SHOWN_MS = 6000


@dataclass
class ClientApp:
    """Everything the running client is made of (tests drive it through this)."""

    api: CordonApi
    controller: Controller
    window: MainWindow
    events: EventRecorder
    outbox: Outbox
    engine: PlaybackEngine
    lockdown: LockdownController
    lock_filter: LockdownFilter
    updates: UpdateOps | None = None

    def shutdown(self) -> None:
        if self.updates is not None:
            self.updates.stop()
        self.lockdown.stop()
        self.controller.shutdown()
        self.window.quit_without_asking()  # the outbox is closed: nothing left to lose
        self.window.close()


@functools.cache
def _redact_accessibility() -> None:
    """Screen readers see roles and names, never transcript or task text.

    Cached: Qt keeps an installed factory for the life of the process.
    """
    install_redaction(
        {
            TranscriptEditor: (QAccessible.Role.EditableText, "Transcript"),
            TaskList: (QAccessible.Role.List, "Tasks"),
            SegmentTable: (QAccessible.Role.Table, "Segments"),
            RankingList: (QAccessible.Role.List, "Ranking"),
            CommentList: (QAccessible.Role.List, "Review comments"),
            SuggestionList: (QAccessible.Role.List, "PII proposals"),
            DiffView: (QAccessible.Role.StaticText, "Changes"),
            WaveformView: (QAccessible.Role.Graphic, "Waveform"),
        }
    )


def _platform_name() -> str:
    """Qt's platform plugin (``xcb``, ``wayland``, ``windows``…): what capture guard applies."""
    app = QApplication.instance()
    return app.platformName() if isinstance(app, QApplication) else "offscreen"


def build(
    server: str,
    ca_file: Path,
    stream_factory: StreamFactory = sounddevice_stream,
    policy: Policy | None = None,
    guard: CaptureGuard | None = None,
    outbox_root: Path | None = None,
) -> ClientApp:
    """Build the client. Raises KeyringUnavailableError if the keyring is not safe.

    ``outbox_root`` defaults to ``$XDG_STATE_HOME/cordon/outbox``; each server
    (URL and pinned CA) gets its own outbox there.
    """
    check_backend()
    policy = policy or Policy.defaults()
    guard = guard or guard_for(_platform_name())
    if not policy.flag("screen_reader"):
        _redact_accessibility()
    api = CordonApi(server, ca_file)
    server_id = server_identity(api.base_url, ca_file)
    outbox_key = OutboxKeyStore(server_id).load_or_create()
    outbox_dir = (outbox_root or state_dir() / "outbox") / server_id
    outbox = Outbox(outbox_dir, outbox_key)
    drafts = DraftStore(outbox_dir / "drafts", outbox_key)
    events = EventRecorder(outbox)
    for name in outbox.damaged:
        logger.error("outbox file %s could not be read; its entries are lost", name)
        events.record(AccessEvent(AccessAction.OUTBOX_DAMAGED, outcome=Outcome.FAILED))
    sso = SsoSettings.from_policy(policy.choice)
    authenticator: Authenticator = (
        MsalAuthenticator(api, sso, KeyringTokenCache(server_id)) if sso else DemoAuthenticator(api)
    )
    secret_file = policy.choice("enrolment_secret_file").strip()

    def enrolment_secret() -> str | None:
        if not secret_file:
            return None
        try:
            return Path(secret_file).read_text(encoding="utf-8").strip() or None
        except OSError:
            logger.warning("the enrolment secret file named by the policy cannot be read")
            return None

    session = SessionService(api, authenticator, DeviceStore(server_id), enrolment_secret)
    engine = PlaybackEngine(stream_factory)
    controller = Controller(
        api,
        session,
        SegmentService(api, lambda: session.device, events),
        ComparisonService(api, lambda: session.device, events),
        LabelService(api, outbox, events),
        events,
        engine,
        outbox,
        drafts,
    )
    window = MainWindow(
        controller.accounts, api.base_url, watermark_opacity=policy.number("watermark_opacity")
    )
    if sso is not None:
        window.login.use_single_sign_on(sso.provider)

    def wipe_here(user_ids: list[str]) -> WipeReport:
        return wipe_workstation(
            DeviceStore(server_id), OutboxKeyStore(server_id), authenticator.forget, user_ids,
            [outbox_dir],
        )  # fmt: skip

    controller.wipe_workstation = wipe_here
    lock_filter = LockdownFilter(guard, window)
    lockdown = LockdownController(controller, policy, guard, lock_filter.idle_seconds, controller)
    _wire(controller, window)
    _wire_lockdown(controller, window, lockdown, lock_filter)
    updates = update_ops_for(policy, api.base_url, ca_file, state_dir() / "updates" / server_id,
                             events, controller)  # fmt: skip
    wire_updates(updates, controller, window)
    return ClientApp(api, controller, window, events, outbox, engine, lockdown, lock_filter,
                     updates)  # fmt: skip


def _wire_lockdown(
    c: Controller, w: MainWindow, lockdown: LockdownController, lock_filter: LockdownFilter
) -> None:
    """Clipboard policy, curtain, watermark identity, capture audit and idle lock."""
    policy = lockdown.policy
    in_app = InAppClipboard() if policy.flag("in_app_clipboard") else None

    def configure(editor: TranscriptEditor) -> None:
        editor.in_app = in_app
        editor.paste_policy = policy.choice("paste_into_editor")
        editor.blocked.connect(lockdown.blocked)

    w.annotation.fields.configure_editor = configure
    for editor in [*w.annotation.text_editors(), *w.comparison.text_editors()]:
        configure(editor)
    w.comparison.ranking.blocked.connect(lockdown.blocked)
    w.tasks.blocked.connect(lockdown.blocked)
    w.dialog_blocked.connect(lockdown.blocked)
    w.annotation.table.blocked.connect(lockdown.blocked)
    lockdown.notice.connect(lambda text: w.statusBar().showMessage(text, NOTICE_SHOWN_MS))
    lock_filter.capture_key_pressed.connect(lockdown.capture_key_pressed)
    lock_filter.protection_failed.connect(lockdown.protection_failed)
    lock_filter.application_active.connect(
        lambda active: lockdown.application_active(active, "focus")
    )
    w.minimized.connect(lambda: lockdown.application_active(False, "minimized"))
    lockdown.curtain_changed.connect(
        lambda covered: w.curtain.cover() if covered else w.curtain.lift()
    )

    def signed_in(user: User) -> None:
        w.watermark.set_identity(user.username, c.session_id)
        lockdown.signed_in()

    def locked(message: str) -> None:
        if in_app is not None:
            in_app.clear()
        w.show_locked(message)

    def settings() -> None:
        dialog = PolicyDialog(policy, w)
        dialog.save_requested.connect(lockdown.save_user_policy)
        dialog.open()

    c.signed_in.connect(signed_in)
    c.locked.connect(locked)
    w.sign_out_requested.connect(c.sign_out)
    w.action_triggered.connect(lambda action: settings() if action == "security_settings" else None)


def _wire(c: Controller, w: MainWindow) -> None:
    w.login.sign_in_requested.connect(c.sign_in)
    w.login.cancel_requested.connect(c.cancel_sign_in)

    def wiped(text: str) -> None:
        w.show_session_expired(text)
        w.login.lock_out(text)

    c.wiped.connect(wiped)
    c.sign_in_failed.connect(w.login.show_error)
    c.signed_in.connect(w.show_signed_in)
    c.tasks_loaded.connect(lambda tasks: w.show_tasks(tasks, c.reviews))
    c.tasks_failed.connect(w.show_banner)
    w.tasks.task_activated.connect(c.open_task)
    c.segment_opening.connect(w.show_opening)
    c.segment_progress.connect(w.show_progress)

    def opened(seg: OpenedSegment) -> None:
        w.watermark.set_strength(seg.controls.watermark)
        w.show_segment(seg.task, seg.summaries, seg.audio.sample_rate)

    c.segment_opened.connect(opened)
    c.segment_decoding.connect(lambda _seg: w.refresh_audio())
    c.segment_complete.connect(lambda _seg: w.refresh_audio())
    c.session_expired.connect(w.show_session_expired)
    c.segment_failed.connect(w.show_banner)
    c.segment_closed.connect(w.show_closed)
    w.player.play_toggled.connect(c.toggle_playback)
    w.player.skip_requested.connect(c.skip_seconds)
    w.waveform.seek_requested.connect(c.seek_seconds)
    c.playback_changed.connect(w.show_playback)
    w.submit_requested.connect(c.submit)
    c.label_saved.connect(lambda _task_id: w.show_saved())
    c.label_submitted.connect(lambda _task_id, rev: w.show_submitted(rev))
    c.label_failed.connect(w.show_submit_error)
    c.delivery_changed.connect(w.show_sync)
    _wire_player(c, w)
    _wire_annotation(c, w)
    wire_review(c, w)
    wire_pii_suggestions(c, w)


def _wire_player(c: Controller, w: MainWindow) -> None:
    """Speed, volume, channels, loop and regions: the transcriber's keyboard workflow."""
    w.player.speed_step_requested.connect(c.change_speed)
    w.player.volume_changed.connect(c.set_volume)
    w.player.channel_gains_changed.connect(c.set_channel_gains)
    c.player_settings_changed.connect(w.player.show_settings)
    w.waveform.seek_requested.connect(c.select_region_at)
    w.waveform.region_moved.connect(c.move_region)
    w.waveform.region_drawn.connect(c.create_region)

    def zoom_to_selection() -> None:
        segment, editor = c.selected_segment, c.editor
        if segment is not None and editor is not None:
            w.zoom_to_region(segment.start / editor.rate, segment.end / editor.rate)

    actions = {
        "speed_down": lambda: c.change_speed(-0.1),
        "speed_up": lambda: c.change_speed(0.1),
        "speed_reset": lambda: c.set_speed(1.0),
        "loop": c.toggle_loop,
        "mark_boundary": c.mark_boundary,
        "next_region": lambda: c.step_region(forward=True),
        "previous_region": lambda: c.step_region(forward=False),
        "delete_region": c.delete_selected_region,
        "split_segment": lambda: c.split_at_playhead(w.editor.textCursor().position()),
        "zoom_selection": zoom_to_selection,
    }
    w.action_triggered.connect(lambda action_id: actions.get(action_id, lambda: None)())


def _wire_annotation(c: Controller, w: MainWindow) -> None:
    """The document: segments both ways between list and waveform, text, labels, drafts."""
    panel = w.annotation
    c.document_loaded.connect(w.show_document)

    def segments(editor: DocumentEditor | None, selected: str | None) -> None:
        w.show_segments(editor, selected)

    c.segments_changed.connect(segments)
    c.segment_text_changed.connect(w.show_segment_text)
    panel.table.segment_chosen.connect(lambda segment_id: c.select_segment(segment_id, play=True))
    panel.text_edited.connect(c.set_segment_text)
    panel.speaker_requested.connect(c.set_speaker)
    panel.label_requested.connect(c.toggle_label)

    def tag(category: str, chars: tuple[int, int] | None) -> None:
        if not c.tag_pii(category, chars):
            words = ("Select words in a segment, Shift+drag a span on the waveform, or select "
                     "a segment, to tag personal data.")  # fmt: skip
            w.statusBar().showMessage(words, NOTICE_SHOWN_MS)

    panel.pii_requested.connect(tag)
    w.waveform.span_marked.connect(c.mark_span)
    c.span_tagged.connect(lambda: w.waveform.mark_span(None))
    c.segment_closed.connect(lambda: w.waveform.mark_span(None))
    panel.field_changed.connect(c.set_field)
    panel.comment_changed.connect(c.set_comment)

    def blocked(path: str, words: str) -> None:
        w.show_submit_error(words)
        if path.startswith("$.segments[") and c.editor is not None:
            index = int(path[len("$.segments[") : path.index("]")])
            if index < len(c.editor):
                c.select_segment(c.editor.segments[index].id)
        elif path.startswith("$.fields."):
            w.annotation.focus_fields()

    c.submit_blocked.connect(blocked)
    c.draft_saved.connect(
        lambda when: w.show_draft_saved(time.strftime("%H:%M:%S", time.localtime(when)))
    )

    def conflict(choice: WorkChoice) -> None:
        draft_conflict.ask(
            w, draft=choice.draft.document, draft_saved_at=choice.draft.saved_at,
            draft_base=choice.draft.base_revision, revision=choice.stored.revision or 0,
            stored=choice.stored.document, answer=lambda keep: c.choose_work(choice, keep),
        )  # fmt: skip

    c.draft_conflict.connect(conflict)
    _wire_comparison(c, w)


def _wire_comparison(c: Controller, w: MainWindow) -> None:
    """RLHF comparisons: the bundle's texts, its clips, the preference or ranking."""
    panel = w.comparison

    def opened(comparison: OpenedComparison) -> None:
        w.show_comparison(comparison.task, comparison.comparison)

    def play(key: str) -> None:
        comparison = c.comparison
        if comparison is not None and key in comparison.audio:
            w.show_clip(comparison.summaries[key], comparison.audio[key].sample_rate)
            c.play_clip(key)

    c.comparison_opened.connect(opened)
    panel.play_requested.connect(play)
    panel.choice_made.connect(c.choose)
    panel.reason_changed.connect(c.set_reason)
    panel.move_requested.connect(c.move_output)
    panel.tie_requested.connect(c.toggle_tie)
    panel.keep_order_requested.connect(c.keep_order)

    def document_changed() -> None:
        panel.show_document(c.editor)

    c.document_changed.connect(document_changed)


def _refuse(qt_app: QCoreApplication, message: str, exc: Exception) -> int:
    """Explain why Cordon will not start: on stderr always, in a dialog where one can show."""
    logger.error("refusing to start: %s", exc)
    print(f"cordon: {message}", file=sys.stderr)  # noqa: T201 - the user must see this
    if isinstance(qt_app, QApplication) and qt_app.platformName() != "offscreen":
        QMessageBox.critical(None, "Cordon cannot start", message)
    return 2


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cordon", description="Cordon annotation client")
    parser.add_argument("--version", action="version", version=f"cordon {__version__}")
    parser.add_argument(
        "--server", help="https://host:port of the Cordon server (unless the policy names it)"
    )
    parser.add_argument(
        "--ca", help="the on-prem CA certificate to pin, PEM (unless the policy names it)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, machine: MachineReader | None = None) -> int:
    """Run the client. ``machine`` replaces the OS's machine-policy reader (the demo's
    harness only: the product reads ``/etc/cordon``, the registry or managed preferences)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    hardening = harden_process()  # before anything is decrypted
    args = parse_args(argv)
    sys.setswitchinterval(AUDIO_SWITCH_INTERVAL_S)  # the audio callback must get the GIL on time
    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    qt_app.setApplicationName("Cordon")
    logger.info(
        "hardening: core dumps off=%s, not dumpable=%s",
        hardening.core_dumps_disabled,
        hardening.not_dumpable,
    )
    try:
        policy = load_policy(machine)
        server, ca_file = server_target(policy, args.server, args.ca)
    except PolicyError as exc:
        words = (
            "Cordon cannot connect as asked"
            if isinstance(exc, ServerChoiceError)
            else "The Cordon policy on this computer is not valid"
        )
        return _refuse(qt_app, f"{words}: {exc}", exc)
    guard = guard_for(_platform_name())
    refusal = start_refusal(policy, guard)
    if refusal is not None:
        return _refuse(qt_app, refusal, RuntimeError("start refused by policy"))
    try:
        use_os_keyring()
        client = build(server, ca_file, policy=policy, guard=guard)
    except (KeyringUnavailableError, OutboxBusyError) as exc:
        return _refuse(qt_app, exc.user_message, exc)
    except OSError as exc:
        message = f"Cordon cannot use its encrypted outbox ({type(exc).__name__}: {exc.strerror})."
        return _refuse(qt_app, message, exc)
    except ValueError as exc:
        return _refuse(qt_app, str(exc), exc)
    client.window.close_requested.connect(client.shutdown)
    client.window.show()
    quit_on_signals(qt_app, client.window)
    QTimer.singleShot(0, lambda: logger.info("client ready for %s", client.api.base_url))
    code = qt_app.exec()
    client.shutdown()
    release_clipboard()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())

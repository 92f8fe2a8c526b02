"""A workstation that only records: the fault tests kill it (``kill -9``) and restart it.

``python -m devtools.outbox_driver --server URL --ca CA --outbox DIR --total N``

It signs in like the client (demo login, device key in the OS keyring), opens
the real outbox and the real uploader, and appends entries until the outbox's
sequence reaches ``N``: an access event for most numbers, a label for every
``--label-every``-th. Each entry's ids derive from its sequence number
(``uuid5``), and a restart continues from the outbox's next number, so after any
number of kills the server must hold entries 1…N exactly once. It exits 0
once everything is delivered.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from pathlib import Path

from app.api import errors
from app.api.client import CordonApi
from app.auth.authenticator import AuthError
from app.auth.demo_login import DemoAuthenticator
from app.domain.models import AccessEvent, TaskId
from app.services.delivery import Delivery
from app.services.device_store import (
    DeviceStore,
    OutboxKeyStore,
    server_identity,
    use_os_keyring,
)
from app.services.events import event_body
from app.services.labels import label_body
from app.services.outbox import Outbox, Ticket
from app.services.session import SessionService
from app.wire.schemas import AccessAction
from devtools.documents import demo_document

NAMESPACE = uuid.UUID("6d1f4b7e-3f0a-4d36-9a55-0c8f2f3e9b10")
BURST = 25


def event_id(seq: int) -> str:
    return str(uuid.uuid5(NAMESPACE, str(seq)))


def label_id(seq: int) -> str:
    return f"lbl_fault_{seq}"


def _first_task(session: SessionService) -> str:
    """Sign in and pick a task; the server may be down (a test killed it): keep trying."""
    while True:
        try:
            session.sign_in("annotator")
            return session.tasks()[0].task_id
        except (errors.ApiError, AuthError):  # sign-in words a dead server as an AuthError
            time.sleep(0.1)


def _append(outbox: Outbox, seq: int, task_id: str, label_every: int) -> Ticket:
    """Entry ``seq``: a label every ``label_every``-th number, else an access event."""
    if label_every and seq % label_every == 0:
        return outbox.append(
            "label",
            label_body(
                task_id,
                label_id(seq),
                demo_document(f"draft {seq}"),
                base_revision=None,
                draft=True,
            ),
        )
    event = AccessEvent(
        AccessAction.PLAYBACK_SEEKED, TaskId(task_id), position_ms=seq, event_id=event_id(seq)
    )
    return outbox.append("event", event_body(event))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="outbox_driver")
    parser.add_argument("--server", required=True)
    parser.add_argument("--ca", required=True, type=Path)
    parser.add_argument("--outbox", required=True, type=Path)
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--label-every", type=int, default=500)
    parser.add_argument("--rate", type=float, default=600.0, help="entries per second")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    use_os_keyring()
    api = CordonApi(args.server, args.ca, timeout=(2.0, 10.0))
    server_id = server_identity(api.base_url, args.ca)
    session = SessionService(api, DemoAuthenticator(api), DeviceStore(server_id))
    task_id = _first_task(session)
    outbox = Outbox(args.outbox, OutboxKeyStore(server_id).load_or_create())
    delivery = Delivery(outbox, api, backoff=(0.05, 0.5))
    delivery.start()
    print(f"started at {outbox.next_seq}", flush=True)  # noqa: T201 - the test reads it
    last: Ticket | None = None
    began, first = time.monotonic(), outbox.next_seq
    while (seq := outbox.next_seq) <= args.total:
        last = _append(outbox, seq, task_id, args.label_every)
        if seq % BURST == 0:
            last.wait()
            time.sleep(max(0.0, began + (seq - first) / args.rate - time.monotonic()))
    if last is not None:
        last.wait()
    while any(outbox.counts()):
        delivery.wake()
        time.sleep(0.05)
    delivery.stop()
    outbox.close()
    print("delivered", flush=True)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())

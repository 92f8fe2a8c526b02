"""Property-based fuzzing of the whole ``/v1`` API from its own OpenAPI document.

schemathesis generates requests for every operation, valid and invalid
(positive and negative modes), and sends them to the real server over TLS
with Cordon's real credentials in rotation: an annotator and a reviewer with
enrolled devices (each request proven by its workstation's DPoP key), a token
whose workstation has no device, the annotator's token without its proof, a
junk token, none at all. Path ids are real ones half the time, so the fuzz
reaches past the 404s.

Every answer must be a 2xx or a 4xx with Cordon's JSON error body — never a
5xx, never a hang (10 s) — and afterwards ``audit verify`` must still pass
over everything the fuzz made the server record.

``CORDON_FUZZ_EXAMPLES`` sets hypothesis' examples per operation and mode
(default 100: about 2,600 requests in the normal run, some 40 s); the long mode
is ``CORDON_FUZZ_EXAMPLES=12000`` (over 100,000 requests; operations whose
inputs run out stop early, so requests grow less than the examples).
``CORDON_FUZZ_REPORT`` names a JSON file for the counts.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from app.api.client import CordonApi
from app.crypto.device_keys import DeviceKeyPair
from app.crypto.dpop import DPoPKey
from server.api.app import openapi_schema
from server.cli import main as server_main
from tests.e2e.conftest import LiveServer, live_server

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("CORDON_FUZZ_EXAMPLES", "100"))
REPORT = os.environ.get("CORDON_FUZZ_REPORT")
# The push channel stays open by design (tests/e2e/test_revocation.py drives it).
schema = schemathesis.openapi.from_dict(openapi_schema()).exclude(path="/v1/session/watch")


class Fuzz:
    """The live server, credentials to rotate through, and the tally."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(server.ca_file)
        self.nonce: str | None = None
        annotator = self._signed_in("annotator")
        self.creds: list[tuple[str | None, DPoPKey | None]] = [
            annotator,
            self._signed_in("reviewer"),
            self._signed_in("annotator", enroll=False),  # no device
            (annotator[0], None),  # the token without its proof
            ("not-a-token", None),
            (None, None),
        ]
        api = CordonApi(server.url, server.ca_file)
        api.set_token(annotator[0])
        api.set_proof_key(annotator[1])
        tasks = api.list_tasks().tasks
        api.close()
        self.ids = {"task_id": [t.task_id for t in tasks], "project_id": [tasks[0].project_id]}
        self._rotation = itertools.cycle(range(len(self.creds)))
        self._real = itertools.cycle([True, False])
        self.statuses: Counter[int] = Counter()
        self.cases = 0
        self.slowest = 0.0

    def _signed_in(self, username: str, *, enroll: bool = True) -> tuple[str, DPoPKey]:
        key = DPoPKey.generate()
        api = CordonApi(self.server.url, self.server.ca_file)
        api.set_proof_key(key)
        token = api.demo_login(username).access_token
        api.set_token(token)
        if enroll:
            pair = DeviceKeyPair.generate()
            api.enroll_device("fuzz", base64.b64encode(pair.public_bytes()).decode())
        api.close()
        return token, key

    def prepare(self, case: Any) -> dict[str, str]:
        """Real ids for half the cases with path ids; the next credentials in turn."""
        for name, values in self.ids.items():
            if case.path_parameters and name in case.path_parameters and next(self._real):
                case.path_parameters[name] = values[self.cases % len(values)]
        token, key = self.creds[next(self._rotation)]
        headers = {"Authorization": f"DPoP {token}"} if token else {}
        if key is not None:
            url = self.server.url + case.formatted_path
            headers["DPoP"] = key.proof(case.method, url, access_token=token, nonce=self.nonce)
        return headers


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    server = live_server(
        tmp_path_factory.mktemp("fuzz"), {"a.wav": (1.0, 8000, 1), "b.wav": (2.0, 16000, 2)}
    )
    state = Fuzz(server)
    try:
        yield state
    finally:
        state.session.close()
        server.stop()
    summary = {
        "cases": state.cases,
        "statuses": dict(sorted(state.statuses.items())),
        "server_errors": sum(n for s, n in state.statuses.items() if s >= 500),
        "slowest_s": round(state.slowest, 3),
    }
    print("fuzz:", json.dumps(summary))  # noqa: T201 - the figure for the closing note
    if REPORT:
        Path(REPORT).write_text(json.dumps(summary, indent=2))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_every_answer_is_2xx_or_a_json_4xx(case: Any, fuzz: Fuzz) -> None:
    headers = fuzz.prepare(case)
    start = time.monotonic()
    response = case.call(
        base_url=fuzz.server.url,
        session=fuzz.session,
        headers=headers,
        timeout=10,
        verify=str(fuzz.server.ca_file),
    )
    took = time.monotonic() - start
    nonce = response.headers.get("dpop-nonce")  # schemathesis: a list per header name
    fuzz.nonce = nonce[0] if nonce else fuzz.nonce
    fuzz.cases += 1
    fuzz.statuses[response.status_code] += 1
    fuzz.slowest = max(fuzz.slowest, took)
    assert response.status_code < 500, (case.method, case.path, response.status_code)
    if response.status_code >= 400:
        body = json.loads(response.content)
        assert set(body) == {"error"} and set(body["error"]) - {"path"} == {"code", "message"}


def test_the_log_the_fuzz_left_still_verifies(
    fuzz: Fuzz, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs after the fuzz (same module): everything it made the server record verifies."""
    assert fuzz.cases > 0
    code = server_main(["audit", "verify", "--data-dir", str(fuzz.server.data_dir)])
    out = capsys.readouterr().out
    assert code == 0, out

"""``POST /v1/tasks/{id}/pii-suggestions``: the project's categories, access, bad input."""

from __future__ import annotations

from pathlib import Path

from app.crypto.device_keys import DeviceKeyPair
from tests.fixtures import demo_server, enroll, login

TEXT = "card 4111 1111 1111 1111, call +44 20 7946 0958, mail jo@example.org"


def test_proposals_fit_the_projects_categories_and_refusals_are_clear(tmp_path: Path) -> None:
    srv = demo_server(tmp_path, {"call.wav": (1.0, 8000, 1)})
    c = srv.client()
    ann = enroll(c, login(c, "annotator"), DeviceKeyPair.generate())
    rev = enroll(c, login(c, "reviewer"), DeviceKeyPair.generate())
    task = c.get("/v1/tasks", headers=ann).json()["tasks"][0]["task_id"]
    url = f"/v1/tasks/{task}/pii-suggestions"
    body = {"schema_version": 1, "texts": [{"segment": "s1", "text": TEXT}]}
    answer = c.post(url, json=body, headers=ann)
    assert answer.status_code == 200, answer.text
    (hit,) = answer.json()["suggestions"]  # the demo schema has no phone or e-mail category
    assert (hit["category"], hit["kind"]) == ("account_number", "card_number")
    assert TEXT[hit["char_start"] : hit["char_end"]] == "4111 1111 1111 1111"
    clean = {"schema_version": 1, "texts": [{"segment": "s1", "text": "see you at 10:30"}]}
    assert c.post(url, json=clean, headers=ann).json()["suggestions"] == []
    # Not handed in: the reviewer cannot see the task, so cannot ask about it either.
    assert c.post(url, json=body, headers=rev).status_code == 404
    unknown = c.post(url, json={**body, "schema_version": 9}, headers=ann)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "invalid_request"
    huge = {"schema_version": 1, "texts": [{"segment": "s1", "text": "x" * 20_001}]}
    assert c.post(url, json=huge, headers=ann).status_code == 422

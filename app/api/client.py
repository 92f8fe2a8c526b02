"""HTTP client for the Cordon server: HTTPS only, TLS 1.3, the on-prem CA pinned.

Pinning is explicit: ``Session.verify`` is the Cordon CA file and
``trust_env=False``, because ``REQUESTS_CA_BUNDLE`` in the environment would
otherwise silently replace it with the system store. Each worker thread gets
its own ``requests.Session`` (sessions are not thread-safe). Every response is
validated against the shared wire schema; every failure becomes a typed
:class:`~app.api.errors.ApiError`.

Every request is proven by the workstation's DPoP key (RFC 9449): a fresh
proof for its method and URL, with the hash of the token and the server's
latest nonce. A ``use_dpop_nonce`` answer is retried once with the new nonce.

A kept-alive connection the server closes as a request goes out on it (its idle
timeout and the workstation's next request crossing) is answered by nothing. A
request that may be sent twice — a read, or a write with an ``Idempotency-Key``,
which the server answers once — is then sent once more on a new connection, with
a new proof; any other is a :class:`~app.api.errors.NetworkError`, as before.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
import urllib3.exceptions
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter

from app import __version__
from app.api import errors
from app.crypto.dpop import NONCE_HEADER, PROOF_HEADER, SCHEME, DPoPKey
from app.wire.context import (
    ContextDecisionIn,
    ContextIn,
    ContextListOut,
    ContextOut,
    PendingContextListOut,
)
from app.wire.manage import AssignIn, AssignOut, PolicyIn, PolicyOut, ProjectTasksOut, ReassignIn
from app.wire.pii import PiiSuggestIn, PiiSuggestionsOut, PiiTextIn
from app.wire.project_schema import ProjectSchemaOut
from app.wire.report import ReportOut
from app.wire.review import (
    CommentIn,
    CommentListOut,
    CommentOut,
    CoverageOut,
    HistoryOut,
    ReviewQueueOut,
    StepIn,
)
from app.wire.schemas import (
    DemoLoginIn,
    DeviceEnrollIn,
    DeviceOut,
    ErrorBody,
    ErrorCode,
    EventBatchAck,
    EventBatchIn,
    HealthOut,
    KeyGrantOut,
    LabelAck,
    LabelDocumentWire,
    LabelIn,
    LabelOut,
    SsoLoginIn,
    TaskListOut,
    TaskStatus,
    TokenOut,
)

M = TypeVar("M", bound=BaseModel)
DEFAULT_TIMEOUT = (5.0, 30.0)
STREAM_PIECE = 256 * 1024


class _Tls13Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_minimum_version"] = ssl.TLSVersion.TLSv1_3
        super().init_poolmanager(*args, **kwargs)


class CordonApi:
    """One server, one CA, one signed-in user and device."""

    def __init__(
        self, base_url: str, ca_file: Path, timeout: tuple[float, float] = DEFAULT_TIMEOUT
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("the Cordon server URL must be https://host[:port]")
        if not ca_file.is_file():
            raise ValueError(f"CA file not found: {ca_file}")
        self.base_url = base_url.rstrip("/")
        self.ca_file = ca_file
        self.timeout = timeout
        self._local = threading.local()
        self._token: str | None = None
        self._proof_key: DPoPKey | None = None
        self._nonce: str | None = None
        #: Called (on the calling thread) when the server says this device was revoked.
        self.on_revoked: Callable[[], None] | None = None

    # -- state ------------------------------------------------------------
    def set_token(self, token: str | None) -> None:
        self._token = token

    def set_proof_key(self, key: DPoPKey | None) -> None:
        """The workstation key that signs every request's proof (``None``: sign nothing)."""
        self._proof_key = key

    @property
    def signed_in(self) -> bool:
        return self._token is not None

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False
            session.verify = str(self.ca_file)
            session.mount("https://", _Tls13Adapter())
            session.mount("http://", _RefuseAdapter())
            self._local.session = session
        return session

    def close(self) -> None:
        """Close this thread's session (each worker calls it when it stops)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    def _headers(self, method: str, url: str, nonce: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token, key = self._token, self._proof_key
        if token:
            headers["Authorization"] = f"{SCHEME} {token}"
        if key is not None:
            headers[PROOF_HEADER] = key.proof(method, url, access_token=token, nonce=nonce)
        return headers

    # -- transport ----------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        *,
        stream: bool = False,
        idempotency_key: str | None = None,
    ) -> requests.Response:
        url = self.base_url + path
        data = None if body is None else body.model_dump_json().encode("utf-8")
        repeatable = method == "GET" or idempotency_key is not None
        nonce_retried = resent = False
        while True:
            # The nonce this proof carries: other threads (delivery, the push channel, the
            # network queue) share ``_nonce`` and may have moved it on meanwhile, so
            # "stale" must compare against what *this* request sent.
            used = self._nonce
            try:
                response = self._request_once(method, url, data, used, idempotency_key, stream)
            except _ClosedUnansweredError:
                if not repeatable or resent:
                    raise
                resent = True  # once: a server that keeps closing is a NetworkError
                continue
            fresh = response.headers.get(NONCE_HEADER)
            stale = fresh is not None and fresh != used
            if fresh is not None:
                self._nonce = fresh
            if (
                not nonce_retried
                and stale
                and response.status_code == 401
                and _wants_nonce(response)
            ):
                nonce_retried = True
                response.close()
                continue
            break
        if response.status_code >= 300:
            try:
                error = _error_for(response)
            finally:
                response.close()
            if isinstance(error, errors.DeviceRevokedError) and self.on_revoked is not None:
                self.on_revoked()
            raise error
        return response

    def _request_once(
        self,
        method: str,
        url: str,
        data: bytes | None,
        nonce: str | None,
        idempotency_key: str | None,
        stream: bool,
    ) -> requests.Response:
        """One request with a fresh proof; transport failures as typed errors."""
        headers = self._headers(method, url, nonce)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            return self._session().request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=self.timeout,
                stream=stream,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            raise errors.TlsError(type(exc).__name__) from exc
        except requests.exceptions.RequestException as exc:
            failed = _ClosedUnansweredError if _closed_unanswered(exc) else errors.NetworkError
            raise failed(type(exc).__name__) from exc

    def _json(
        self,
        model: type[M],
        method: str,
        path: str,
        body: BaseModel | None = None,
        idempotency_key: str | None = None,
    ) -> M:
        response = self._send(method, path, body, idempotency_key=idempotency_key)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise errors.ProtocolError(f"{path}: response does not match {model.__name__}") from exc

    # -- endpoints ----------------------------------------------------------
    def health(self) -> HealthOut:
        return self._json(HealthOut, "GET", "/v1/health")

    def demo_login(self, username: str) -> TokenOut:
        return self._json(TokenOut, "POST", "/v1/auth/demo-login", DemoLoginIn(username=username))

    def sso_login(self, provider: str, token: str) -> TokenOut:
        """Exchange an identity provider's token for a Cordon token bound to this key."""
        return self._json(
            TokenOut, "POST", "/v1/auth/sso", SsoLoginIn(provider=provider, token=token)
        )

    def enroll_device(
        self, name: str, public_key_b64: str, enrolment_secret: str | None = None
    ) -> DeviceOut:
        body = DeviceEnrollIn(
            name=name, public_key=public_key_b64, enrolment_secret=enrolment_secret
        )
        return self._json(DeviceOut, "POST", "/v1/devices", body)

    def list_tasks(self) -> TaskListOut:
        return self._json(TaskListOut, "GET", "/v1/tasks")

    @staticmethod
    def _audio_path(task_id: str, context: str | None) -> str:
        """A task's own audio, or the context stretch granted by ask ``context``."""
        return f"/v1/tasks/{task_id}" + (f"/context/{context}" if context else "")

    def key_grant(self, task_id: str, context: str | None = None) -> KeyGrantOut:
        return self._json(KeyGrantOut, "POST", self._audio_path(task_id, context) + "/key-grant")

    @contextmanager
    def segment_stream(
        self, task_id: str, context: str | None = None
    ) -> Iterator[tuple[int | None, Iterator[bytes]]]:
        """Yield (content length, iterator of ciphertext pieces) while the download runs."""
        path = self._audio_path(task_id, context) + "/segment"
        response = self._send("GET", path, stream=True)
        try:
            length_header = response.headers.get("Content-Length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            yield length, self._pieces(response)
        finally:
            response.close()

    @staticmethod
    def _pieces(response: requests.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_content(chunk_size=STREAM_PIECE)
        except requests.exceptions.RequestException as exc:
            raise errors.NetworkError(type(exc).__name__) from exc

    def submit_label(
        self,
        task_id: str,
        label_id: str,
        document: LabelDocumentWire,
        *,
        base_revision: int | None = None,
        draft: bool = False,
        seq: int | None = None,
    ) -> LabelAck:
        """Store a label document; the label id doubles as the idempotency key (a retry is safe)."""
        body = LabelIn(
            label_id=label_id, document=document, base_revision=base_revision, draft=draft,
            seq=seq, client_version=__version__,
        )  # fmt: skip
        path = f"/v1/tasks/{task_id}/labels"
        return self._json(LabelAck, "POST", path, body, idempotency_key=label_id)

    def latest_label(self, task_id: str) -> LabelOut | None:
        try:
            return self._json(LabelOut, "GET", f"/v1/tasks/{task_id}/labels/latest")
        except errors.NotFoundError as exc:
            if exc.server_message == "no label yet":
                return None
            raise

    def pii_suggestions(
        self, task_id: str, schema_version: int, texts: dict[str, str]
    ) -> PiiSuggestionsOut:
        """The server's pattern recognizers over ``texts`` (segment id -> text)."""
        body = PiiSuggestIn(
            schema_version=schema_version,
            texts=[PiiTextIn(segment=s, text=t) for s, t in texts.items()],
        )
        return self._json(PiiSuggestionsOut, "POST", f"/v1/tasks/{task_id}/pii-suggestions", body)

    def label_revision(self, task_id: str, revision: int) -> LabelOut:
        """One stored revision (to diff a reviewer's correction against the annotator's)."""
        return self._json(LabelOut, "GET", f"/v1/tasks/{task_id}/labels/{revision}")

    # -- review ---------------------------------------------------------------
    def review_queue(
        self, status: TaskStatus | None = None, annotator_id: str | None = None
    ) -> ReviewQueueOut:
        query = urlencode(
            {k: v for k, v in (("status", status), ("annotator_id", annotator_id)) if v}
        )
        return self._json(
            ReviewQueueOut, "GET", "/v1/review/queue" + (f"?{query}" if query else "")
        )

    def review_step(self, task_id: str, body: StepIn) -> HistoryOut:
        return self._json(HistoryOut, "POST", f"/v1/tasks/{task_id}/review", body)

    def coverage(self, task_id: str) -> CoverageOut:
        return self._json(CoverageOut, "GET", f"/v1/tasks/{task_id}/coverage")

    def task_history(self, task_id: str) -> HistoryOut:
        return self._json(HistoryOut, "GET", f"/v1/tasks/{task_id}/history")

    def comments(self, task_id: str) -> CommentListOut:
        return self._json(CommentListOut, "GET", f"/v1/tasks/{task_id}/comments")

    def add_comment(self, task_id: str, body: CommentIn) -> CommentOut:
        return self._json(CommentOut, "POST", f"/v1/tasks/{task_id}/comments", body)

    # -- managers -------------------------------------------------------------
    def project_report(self, project_id: str) -> ReportOut:
        return self._json(ReportOut, "GET", f"/v1/projects/{project_id}/report")

    # -- context around a windowed task ------------------------------------------
    def ask_context(self, task_id: str, body: ContextIn) -> ContextOut:
        return self._json(ContextOut, "POST", f"/v1/tasks/{task_id}/context", body)

    def task_context(self, task_id: str) -> ContextListOut:
        return self._json(ContextListOut, "GET", f"/v1/tasks/{task_id}/context")

    def pending_context(self) -> PendingContextListOut:
        return self._json(PendingContextListOut, "GET", "/v1/review/context")

    def decide_context(self, request_id: str, grant: bool) -> ContextOut:
        body = ContextDecisionIn(grant=grant)
        return self._json(ContextOut, "POST", f"/v1/context/{request_id}/decision", body)

    def project_tasks(self, project_id: str) -> ProjectTasksOut:
        return self._json(ProjectTasksOut, "GET", f"/v1/projects/{project_id}/tasks")

    def assign(self, project_id: str, body: AssignIn) -> AssignOut:
        return self._json(AssignOut, "POST", f"/v1/projects/{project_id}/assignments", body)

    def reassign(self, project_id: str, task_id: str, body: ReassignIn) -> AssignOut:
        path = f"/v1/projects/{project_id}/tasks/{task_id}/assignee"
        return self._json(AssignOut, "PUT", path, body)

    def set_policy(self, project_id: str, body: PolicyIn) -> PolicyOut:
        return self._json(PolicyOut, "PUT", f"/v1/projects/{project_id}/policy", body)

    def task_schema(self, task_id: str) -> ProjectSchemaOut:
        """The project schema a task's documents are made under now."""
        return self._json(ProjectSchemaOut, "GET", f"/v1/tasks/{task_id}/schema")

    @contextmanager
    def session_watch(self) -> Iterator[Iterator[str]]:
        """The push channel: yields each server-sent event's name while it stays open."""
        response = self._send("GET", "/v1/session/watch", stream=True)
        try:
            yield _event_names(response)
        finally:
            response.close()

    def post_events(self, batch: EventBatchIn, idempotency_key: str | None = None) -> EventBatchAck:
        return self._json(EventBatchAck, "POST", "/v1/events", batch, idempotency_key)


class _RefuseAdapter(HTTPAdapter):
    """Plain HTTP is never used, even if a redirect or a typo asks for it."""

    def send(self, *_args: Any, **_kwargs: Any) -> requests.Response:
        raise errors.TlsError("plain http refused")


def _event_names(response: requests.Response) -> Iterator[str]:
    """Server-sent events' names (``event:`` lines), one per blank-line-ended event."""
    name = ""
    try:
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line == "" and name:
                yield name
                name = ""
    except requests.exceptions.RequestException as exc:
        raise errors.NetworkError(type(exc).__name__) from exc


class _ClosedUnansweredError(errors.NetworkError):
    """The connection closed with no answer: sent once more if the request allows."""


def _closed_unanswered(exc: requests.exceptions.RequestException) -> bool:
    """The server closed the connection without a word of answer (module docstring).

    Which connection is not known here: a server over its connection limit, or one
    that gave up on a body sent too slowly, closes a new connection the same way, and
    gets the request once more too (never a third time). Not a refused or timed-out
    connection: those say the server is away, and sending again at once would only
    wait twice.
    """
    if not isinstance(exc, requests.exceptions.ConnectionError) or not exc.args:
        return False
    reason = exc.args[0]
    if isinstance(reason, urllib3.exceptions.ProtocolError) and len(reason.args) > 1:
        reason = reason.args[1]
    return isinstance(
        reason, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError
    )


def _wants_nonce(response: requests.Response) -> bool:
    try:
        return ErrorBody.model_validate_json(response.content).error.code is (
            ErrorCode.USE_DPOP_NONCE
        )
    except ValidationError:
        return False


def _error_for(response: requests.Response) -> errors.ServerError:
    status = response.status_code
    code: ErrorCode | None = None
    path: str | None = None
    message = response.reason or ""
    try:
        body = ErrorBody.model_validate_json(response.content)
        code, message, path = body.error.code, body.error.message, body.error.path
    except ValidationError:
        pass
    if status == 401:
        if code is ErrorCode.TOKEN_EXPIRED:
            return errors.TokenExpiredError(status, code, message, path)
        if code is ErrorCode.ACCOUNT_DISABLED:
            return errors.AccountDisabledError(status, code, message, path)
        return errors.AuthenticationError(status, code, message, path)
    cls: type[errors.ServerError]
    if status == 403 and code is ErrorCode.DEVICE_REVOKED:
        cls = errors.DeviceRevokedError
    elif status == 403:
        cls = errors.ForbiddenError
    elif status == 404:
        cls = errors.NotFoundError
    elif status >= 500:
        cls = errors.ServerFailureError
    else:
        cls = errors.RequestRejectedError
    return cls(status, code, message, path)

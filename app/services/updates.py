"""Checking the Cordon server for a signed update, with TUF (python-tuf ``ngclient``).

Trust starts from the root.json IT shipped with the installer (policy
``update_root_file``), never from the server: a server that was broken into, or
a network that lies, can serve old, frozen, mixed or foreign-signed metadata and
altered installers, and TUF refuses each of them. The TLS channel is still the
pinned on-prem CA (``trust_env=False``: no proxy or CA bundle from the
environment), so metadata also comes only from Cordon's server.

What was seen last (timestamp, snapshot, targets, root history) stays in the
metadata directory under the client's state directory: that is what lets a
later check notice a rollback. An installer is downloaded into a new private
directory (0700) and checked against its signed length and hash before anyone
may run it. Any refusal leaves the running version as it is, raises
:class:`UpdateRefusedError` with a stable code, and is reported (ids and codes only)
to the audit log through the event recorder.

Blocking network and file I/O: called on a worker thread, never the GUI thread.
"""

from __future__ import annotations

import logging
import shutil
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.updater import Updater

from app import __version__
from app.domain.models import AccessEvent
from app.services.events import EventRecorder
from app.wire.schemas import AccessAction, Outcome

logger = logging.getLogger(__name__)

#: The installer kind each operating system takes (the server's ``--platform``).
PLATFORM_FOR = {"win32": "windows-msi", "darwin": "macos-pkg", "linux": "linux-deb"}
TIMEOUT = (5.0, 60.0)
PIECE = 256 * 1024

#: Refusal codes that are only a server or network being away, not a refusal of
#: anything it served: logged, not audited. (A repository that was there before and
#: now answers 404 is audited as ``withdrawn``: that is how a freeze would look.)
NOT_AUDITED = frozenset({"unreachable", "not_published", "cancelled"})


class UpdateRefusedError(Exception):
    """An update check that ended without an update; ``code`` is stable (audit reason).

    ``rollback`` (older metadata than seen, or a snapshot naming another
    targets version), ``expired_metadata`` (a frozen repository or an expired
    root), ``bad_signature`` (not signed by the keys the trusted root names),
    ``hash_mismatch`` (an installer or metadata of other bytes than signed),
    ``invalid_metadata``, ``no_trust_root`` (the shipped root.json unreadable),
    ``withdrawn`` (a repository this workstation trusted before answers 404: how
    a freeze would look), ``tls_refused`` (the pinned CA refused the server);
    ``not_published``, ``unreachable`` and ``cancelled`` (nothing to verify: not
    audited).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def refusal_for(exc: Exception) -> UpdateRefusedError:
    """The stable refusal for an exception of TUF or of the transport."""
    kinds: tuple[tuple[type[Exception], str], ...] = (
        (tuf_errors.ExpiredMetadataError, "expired_metadata"),
        (tuf_errors.BadVersionNumberError, "rollback"),
        (tuf_errors.UnsignedMetadataError, "bad_signature"),
        (tuf_errors.LengthOrHashMismatchError, "hash_mismatch"),
        (tuf_errors.DownloadLengthMismatchError, "hash_mismatch"),
        (tuf_errors.RepositoryError, "invalid_metadata"),
    )
    for kind, code in kinds:
        if isinstance(exc, kind):
            return UpdateRefusedError(code, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, tuf_errors.DownloadHTTPError) and exc.status_code == 404:
        return UpdateRefusedError("not_published", "the server publishes no updates")
    cause: BaseException | None = exc
    while cause is not None:  # the pinned CA refused the server's certificate
        if isinstance(cause, requests.exceptions.SSLError | ssl.SSLError):
            return UpdateRefusedError("tls_refused", "the server's certificate is not trusted")
        cause = cause.__cause__ or cause.__context__
    return UpdateRefusedError("unreachable", f"the update check failed: {type(exc).__name__}")


def platform_kind(sys_platform: str = sys.platform) -> str | None:
    """This operating system's installer kind, or None where Cordon ships none."""
    return next((kind for prefix, kind in PLATFORM_FOR.items()
                 if sys_platform.startswith(prefix)), None)  # fmt: skip


def version_key(version: str) -> tuple[int, ...] | None:
    """``X.Y.Z`` as numbers (None if it is not one)."""
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() and len(p) <= 4 for p in parts):
        return None
    return tuple(int(p) for p in parts)


class _Tls13(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_minimum_version"] = ssl.TLSVersion.TLSv1_3
        super().init_poolmanager(*args, **kwargs)


class PinnedFetcher(FetcherInterface):
    """TUF's downloads over the pinned channel: the on-prem CA, TLS 1.3, no environment."""

    def __init__(self, ca_file: Path, cancelled: threading.Event | None = None) -> None:
        self._cancelled = cancelled or threading.Event()
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.verify = str(ca_file)
        self._session.mount("https://", _Tls13())

    def _fetch(self, url: str) -> Iterator[bytes]:
        if urlsplit(url).scheme != "https":
            raise tuf_errors.DownloadError("updates are fetched over https only")
        response = self._session.get(url, stream=True, timeout=TIMEOUT, allow_redirects=False)
        if response.status_code != 200:
            response.close()
            raise tuf_errors.DownloadHTTPError(f"HTTP {response.status_code}", response.status_code)
        return self._pieces(response)

    def _pieces(self, response: requests.Response) -> Iterator[bytes]:
        try:
            for piece in response.iter_content(PIECE):
                if self._cancelled.is_set():  # Cordon is quitting: stop mid-download
                    raise tuf_errors.DownloadError("cancelled")
                yield piece
        finally:
            response.close()

    def close(self) -> None:
        self._session.close()


@dataclass
class UpdateOffer:
    """A newer signed installer for this platform; ``file`` once downloaded and verified."""

    version: str
    target_path: str
    length: int
    file: Path | None = None
    #: The private directory the file was downloaded into (deleted by :meth:`discard`).
    folder: Path | None = field(default=None, repr=False)

    def discard(self) -> None:
        """Delete the downloaded installer (after it ran, or when declined)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.file = self.folder = None


def audit_refusal(events: EventRecorder) -> Callable[[str], None]:
    """Report a refusal code as an ``update_refused`` access event (uploaded with the rest)."""

    def report(code: str) -> None:
        events.record(AccessEvent(AccessAction.UPDATE_REFUSED, outcome=Outcome.REFUSED,
                                  reason=code))  # fmt: skip

    return report


class UpdateChecker:
    """Checks one server's update repository against the shipped root."""

    def __init__(
        self, server_url: str, ca_file: Path, root_file: Path, metadata_dir: Path,
        report: Callable[[str], None], *, current: str = __version__,
        platform: str | None = None,
    ) -> None:  # fmt: skip
        self._base = server_url.rstrip("/") + "/v1/updates"
        self._ca_file = ca_file
        self._root_file = root_file
        self._metadata_dir = metadata_dir
        self._report = report
        self._cancelled = threading.Event()
        self.current = current
        self.platform = platform or platform_kind()

    def cancel(self) -> None:
        """End a check in progress at its next piece (Cordon is quitting); no more checks."""
        self._cancelled.set()

    def check(self, *, download: bool = True) -> UpdateOffer | None:
        """A newer installer (downloaded and verified if ``download``), or None.

        Raises :class:`UpdateRefusedError`; the running version stays either way.
        """
        try:
            if self._cancelled.is_set():
                raise UpdateRefusedError("cancelled", "Cordon is quitting")
            return self._check(download)
        except UpdateRefusedError as exc:
            self._refused(exc)
            raise
        except Exception as exc:
            coded = refusal_for(exc)
            if self._cancelled.is_set():
                coded = UpdateRefusedError("cancelled", "Cordon is quitting")
            elif coded.code == "not_published" and self._seen_before():
                coded = UpdateRefusedError("withdrawn", "a repository seen before is gone")
            self._refused(coded)
            raise coded from exc

    def _seen_before(self) -> bool:
        """Whether this workstation already trusted metadata from this server's repository."""
        return (self._metadata_dir / "timestamp.json").is_file()

    def _refused(self, refused: UpdateRefusedError) -> None:
        logger.warning("update refused (%s)", refused.code)
        if refused.code not in NOT_AUDITED:
            self._report(refused.code)

    def _check(self, download: bool) -> UpdateOffer | None:
        try:
            bootstrap = self._root_file.read_bytes()
        except OSError as exc:
            raise UpdateRefusedError(
                "no_trust_root", "the shipped update root cannot be read"
            ) from exc
        self._metadata_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fetcher = PinnedFetcher(self._ca_file, self._cancelled)
        try:
            updater = Updater(
                str(self._metadata_dir), self._base + "/metadata/",
                target_base_url=self._base + "/targets/", fetcher=fetcher, bootstrap=bootstrap,
            )  # fmt: skip
            updater.refresh()
            offer = self._newest(updater)
            if offer is None or not download:
                return offer
            return self._download(updater, offer)
        finally:
            fetcher.close()

    def _newest(self, updater: Updater) -> UpdateOffer | None:
        """The newest target of this platform above the running version.

        The names come from the targets.json ``refresh()`` has just verified and
        stored; each candidate is then asked of the updater, whose answer is
        what counts.
        """
        if self.platform is None:
            return None
        listed: Metadata[Any] = Metadata.from_file(str(self._metadata_dir / "targets.json"))
        best: UpdateOffer | None = None
        floor = version_key(self.current) or (0, 0, 0)
        for path in listed.signed.targets:
            if not path.startswith(self.platform + "/"):
                continue
            info = updater.get_targetinfo(path)
            version = str((info.custom or {}).get("version", "")) if info else ""
            key = version_key(version)
            if info is None or key is None or key <= floor:
                continue
            if best is None or key > (version_key(best.version) or floor):
                best = UpdateOffer(version, path, info.length)
        return best

    def _download(self, updater: Updater, offer: UpdateOffer) -> UpdateOffer:
        info = updater.get_targetinfo(offer.target_path)
        if info is None:  # it was there a moment ago, in the same verified state
            raise UpdateRefusedError("invalid_metadata", "the target vanished")
        folder = Path(tempfile.mkdtemp(prefix="cordon-update-"))  # 0700
        try:
            name = offer.target_path.rsplit("/", 1)[-1]
            path = updater.download_target(info, filepath=str(folder / name))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        offer.file, offer.folder = Path(path), folder
        return offer

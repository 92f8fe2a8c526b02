"""Fixtures the server tests share: S3 through moto's emulation (devtools/s3.py), and a
real PostgreSQL server (devtools/postgres.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devtools.postgres import private_postgres
from devtools.s3 import CREDENTIALS, private_s3


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with private_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials in boto3's chain (moto accepts any), for this process and its children."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """The run's PostgreSQL server if it has one, else one for this module."""
    running = os.environ.get("CORDON_TEST_POSTGRES_URL")
    if running:
        yield running
        return
    with private_postgres() as url:
        yield url

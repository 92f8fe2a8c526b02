"""S3 for the tests and the benchmark: moto's emulation of the API on 127.0.0.1.

No S3-compatible server installs here without heavy set-up (a Ceph cluster, a Swift
ring), so the blob store's S3 side is tested against moto's standalone server. It
emulates the API — buckets, server-side encryption, ranged and streamed reads — and
accepts any credentials: it tests Cordon's use of the contract, not S3's
authentication.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

#: Credentials for boto3's chain; moto accepts any.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "cordon-test", "AWS_SECRET_ACCESS_KEY": "cordon-test"}


@contextmanager
def private_s3() -> Iterator[str]:
    """Start moto's server on a free loopback port; yield its endpoint URL; stop it."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - a test-only dependency

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()

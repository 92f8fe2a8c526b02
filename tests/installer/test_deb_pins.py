"""installer/linux/requirements.txt pins the client's runtime closure at the lock's versions.

A lock change without ``python -m devtools.packaging.pin_client`` fails here,
before a package ships wheels the tests never ran against. The closure is
computed from the metadata of the installed distributions (what the tests ran
with), not from the pin tool, so the two are checked against each other.
"""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement

from devtools.packaging.client_wheels import (
    client_dependencies,
    lock_versions,
    normalise,
    read_pins,
)


def _runtime_closure() -> set[str]:
    """Names of every distribution the client's dependencies pull in on this platform."""
    seen: set[str] = set()
    todo = [Requirement(text) for text in client_dependencies()]
    while todo:
        requirement = todo.pop()
        name = normalise(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(requirement.name) or []:
            child = Requirement(text)
            extras = requirement.extras or {""}
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in extras):
                todo.append(child)
    return seen


def test_every_pin_is_the_locks_version_with_a_hash() -> None:
    lock = lock_versions()
    pins = read_pins()
    assert pins, "installer/linux/requirements.txt pins nothing"
    for pin in pins:
        assert lock.get(pin.name) == pin.version, f"{pin.name}: lock has {lock.get(pin.name)}"
        assert pin.hashes and all(len(digest) == 64 for digest in pin.hashes)


def test_pins_are_exactly_the_client_closure() -> None:
    pinned = {pin.name for pin in read_pins()}
    closure = _runtime_closure()
    assert pinned == closure, f"missing {closure - pinned}, extra {pinned - closure}"
    assert not pinned & {"fastapi", "uvicorn", "sqlalchemy", "pytest", "ruff", "mypy"}

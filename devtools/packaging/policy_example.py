"""The example machine policy the Linux package installs as ``/etc/cordon/policy.example.json``.

IT copies it to ``policy.json`` and deletes what it does not want to lock. When
``devtools.packaging.policy_templates`` (the shared generator of every
platform's policy templates) offers ``policy_json_example()``, its text is
used, so all platforms document the same thing; until then the fallback here
writes every key of :data:`app.lockdown.policy.SCHEMA` with its default.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import cast

from app.lockdown.policy import SCHEMA


def schema_defaults_json() -> str:
    """Every schema key with its built-in default, in schema order (a valid policy)."""
    return json.dumps({key.name: key.default for key in SCHEMA}, indent=2) + "\n"


def policy_example_json() -> str:
    """The shared template's example when it exists, else :func:`schema_defaults_json`."""
    try:
        templates = importlib.import_module("devtools.packaging.policy_templates")
    except ModuleNotFoundError:
        return schema_defaults_json()
    example = getattr(templates, "policy_json_example", None)
    if example is None:
        return schema_defaults_json()
    return cast("Callable[[], str]", example)()

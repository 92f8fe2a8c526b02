"""Cordon client: annotate sensitive speech without letting it leave the window.

Layers (enforced by import-linter, see pyproject.toml): ``ui`` -> ``jobs`` ->
``services`` -> ``player``/``api``/``auth`` -> ``domain`` -> ``crypto``/``wire``.
Nothing below ``ui``/``jobs`` imports Qt.
"""

#: The client's version, recorded with every label revision it stores (provenance).
__version__ = "0.1.0"

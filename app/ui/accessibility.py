"""Accessibility redaction: screen readers and UI automation see no content.

Qt's default accessible interface for a text editor exposes the whole text as
its value, and any program with accessibility access can read it. Unless
policy allows screen readers, content widgets get a bare interface that
carries a role and a name but no text. Must be installed before the widgets
are first queried (Qt caches interfaces per object).
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAccessible, QAccessibleInterface
from PySide6.QtWidgets import QAccessibleWidget, QWidget

_installed: list[object] = []


def install_redaction(content: dict[type[QWidget], tuple[QAccessible.Role, str]]) -> None:
    """Give every instance of the ``content`` classes a text-free accessible interface."""

    def factory(_class_name: str, obj: QObject) -> QAccessibleInterface | None:
        for cls, (role, name) in content.items():
            if isinstance(obj, cls):
                return QAccessibleWidget(obj, role, name)
        return None

    _installed.append(factory)  # Qt keeps only a C pointer to the callable
    QAccessible.installFactory(factory)

"""The one shape of a refusal the server's modules raise: a stable code and words.

Routes map the code to a status (``server.api``), the CLI prints it in parentheses;
neither needs to know which module raised it.
"""

from __future__ import annotations


class CodedError(Exception):
    """A refusal with a stable machine-readable ``code`` and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

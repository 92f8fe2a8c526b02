"""Sign-in page: the demo accounts, or the organisation's single sign-on.

With single sign-on the button opens the system browser at the organisation's
identity provider; the box is an optional account hint (the accounts that
signed in here before are offered), and the page says that the browser is
waiting while it does.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QVBoxLayout, QWidget


class LoginPage(QWidget):
    sign_in_requested = Signal(str)
    cancel_requested = Signal()

    def __init__(self, accounts: list[str], server: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        form = QWidget()
        form.setMaximumWidth(380)
        outer.addWidget(form, 0, Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(form)
        outer.insertStretch(0, 1)
        outer.addStretch(2)
        title = QLabel("<h2>Cordon</h2>Sign in to annotate.")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        self.account = QComboBox()
        self.account.setObjectName("accountBox")
        self.account.addItems(accounts)
        self.account.setEditable(not accounts)
        layout.addWidget(self.account)
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setObjectName("signInButton")
        self.sign_in_button.setDefault(True)
        layout.addWidget(self.sign_in_button)
        self.message = QLabel("")
        self.message.setObjectName("loginMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # words from errors: data, not markup
        layout.addWidget(self.message)
        server_label = QLabel(f"Server: {server}")
        server_label.setTextFormat(Qt.TextFormat.PlainText)
        server_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(server_label)
        self.cancel_button = QPushButton("Cancel sign-in")
        self.cancel_button.setObjectName("cancelSignInButton")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self._cancel)
        layout.insertWidget(layout.indexOf(self.message), self.cancel_button)
        self.sign_in_button.clicked.connect(self._request)
        self._sso = False

    def use_single_sign_on(self, provider: str) -> None:
        """Sign in through ``provider`` in the browser; an account is optional."""
        self._sso = True
        self.account.setEditable(True)
        self.account.setCurrentText("")
        line = self.account.lineEdit()
        if line is not None:
            line.setPlaceholderText("Account (optional), e.g. name@organisation")
        self.sign_in_button.setText(f"Sign in with {provider}")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Enter signs in, Escape cancels a browser sign-in: keyboard-first, sign-in included."""
        if event.key() == Qt.Key.Key_Escape and self.cancel_button.isVisible():
            self._cancel()
            return
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            if self.sign_in_button.isEnabled():
                self._request()
            return
        super().keyPressEvent(event)

    def _request(self) -> None:
        account = self.account.currentText().strip()
        if not account and not self._sso:
            self.message.setText("Choose an account.")
            return
        self.sign_in_button.setEnabled(False)
        self.message.setText("Continue in your browser to sign in…" if self._sso else "Signing in…")
        self.cancel_button.setVisible(self._sso)
        self.sign_in_requested.emit(account)

    def _cancel(self) -> None:
        self.cancel_button.hide()
        self.message.setText("Cancelling…")
        self.cancel_requested.emit()

    def lock_out(self, text: str) -> None:
        """This workstation was revoked: say so, and offer no sign-in until Cordon restarts."""
        self.sign_in_button.setEnabled(False)
        self.account.setEnabled(False)
        self.cancel_button.hide()
        self.message.setText(text)

    def show_error(self, text: str) -> None:
        self.sign_in_button.setEnabled(True)
        self.cancel_button.hide()
        self.message.setText(text)

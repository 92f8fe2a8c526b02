"""Sign-in page. The account list comes from the authenticator (demo users today)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QVBoxLayout, QWidget


class LoginPage(QWidget):
    sign_in_requested = Signal(str)

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
        self.sign_in_button.clicked.connect(self._request)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Enter signs in: the whole app is keyboard-first, sign-in included."""
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            if self.sign_in_button.isEnabled():
                self._request()
            return
        super().keyPressEvent(event)

    def _request(self) -> None:
        account = self.account.currentText().strip()
        if not account:
            self.message.setText("Choose an account.")
            return
        self.sign_in_button.setEnabled(False)
        self.message.setText("Signing in…")
        self.sign_in_requested.emit(account)

    def show_error(self, text: str) -> None:
        self.sign_in_button.setEnabled(True)
        self.message.setText(text)

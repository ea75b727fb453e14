"""Tests for the Add Connection dialog: the URI it builds, its checks and its OK button."""

from __future__ import annotations

import random
import string
from typing import TypeVar

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from vmgui.ui.add_connection import AddConnectionDialog

SYSTEM, SESSION, CUSTOM = 0, 1, 2
W = TypeVar("W", bound=QWidget)


class Form:
    """The dialog's widgets, found by object name as any caller would."""

    def __init__(self, dialog: AddConnectionDialog) -> None:
        self.dialog = dialog
        self.hypervisor = self._find(QComboBox, "hypervisor")
        self.remote = self._find(QCheckBox, "remote")
        self.username = self._find(QLineEdit, "username")
        self.hostname = self._find(QLineEdit, "hostname")
        self.custom_uri = self._find(QLineEdit, "custom_uri")
        self.generated_uri = self._find(QLabel, "generated_uri")
        self.autoconnect = self._find(QCheckBox, "autoconnect")
        self.error = self._find(QLabel, "error")
        box = dialog.findChild(QDialogButtonBox)
        assert isinstance(box, QDialogButtonBox)
        ok = box.button(QDialogButtonBox.StandardButton.Ok)
        assert isinstance(ok, QPushButton)
        self.ok = ok

    def _find(self, kind: type[W], name: str) -> W:
        widget = self.dialog.findChild(kind, name)
        assert isinstance(widget, kind), name
        return widget

    def assert_valid(self, uri: str) -> None:
        assert self.dialog.uri() == uri
        assert self.generated_uri.text() == uri
        assert self.ok.isEnabled()
        assert self.error.text() == ""
        assert self.error.isHidden()

    def assert_invalid(self, fragment: str = "") -> None:
        assert self.dialog.uri() == ""
        assert not self.ok.isEnabled()
        assert self.error.text()
        assert fragment in self.error.text()
        assert not self.error.isHidden()


@pytest.fixture
def form(qtbot: QtBot) -> Form:
    dialog = AddConnectionDialog()
    qtbot.addWidget(dialog)
    return Form(dialog)


def test_defaults_to_local_system(form: Form) -> None:
    assert form.hypervisor.currentIndex() == SYSTEM
    assert form.hypervisor.currentText() == "QEMU/KVM (system)"
    assert not form.remote.isChecked()
    assert not form.username.isEnabled()
    assert not form.hostname.isEnabled()
    assert not form.custom_uri.isEnabled()
    assert form.autoconnect.isChecked()
    assert form.dialog.autoconnect() is True
    form.assert_valid("qemu:///system")


def test_hypervisor_choices(form: Form) -> None:
    labels = [form.hypervisor.itemText(i) for i in range(form.hypervisor.count())]
    assert labels == ["QEMU/KVM (system)", "QEMU/KVM user session", "Custom URI"]


def test_user_session(form: Form) -> None:
    form.hypervisor.setCurrentIndex(SESSION)
    form.assert_valid("qemu:///session")


def test_remote_ssh_system(form: Form) -> None:
    form.remote.setChecked(True)
    assert form.username.isEnabled()
    assert form.hostname.isEnabled()
    QTest.keyClicks(form.username, "user")
    QTest.keyClicks(form.hostname, "host")
    form.assert_valid("qemu+ssh://user@host/system")


def test_remote_ssh_session_with_port(form: Form) -> None:
    form.hypervisor.setCurrentIndex(SESSION)
    form.remote.setChecked(True)
    form.hostname.setText("kvm.example.com:2222")
    form.assert_valid("qemu+ssh://kvm.example.com:2222/session")
    form.username.setText("alice")
    form.assert_valid("qemu+ssh://alice@kvm.example.com:2222/session")
    form.hostname.setText("[::1]:22")
    form.assert_valid("qemu+ssh://alice@[::1]:22/session")
    form.hostname.setText("::1")
    form.assert_valid("qemu+ssh://alice@[::1]/session")


def test_generated_uri_follows_typing(form: Form) -> None:
    form.remote.setChecked(True)
    seen = []
    for ch in "kvm1":
        QTest.keyClicks(form.hostname, ch)
        seen.append(form.generated_uri.text())
    assert seen == [f"qemu+ssh://{h}/system" for h in ("k", "kv", "kvm", "kvm1")]


def test_empty_hostname_blocks_ok(form: Form) -> None:
    form.remote.setChecked(True)
    form.assert_invalid("host name")
    form.username.setText("root")
    form.assert_invalid("host name")
    form.hostname.setText("   ")
    form.assert_invalid("host name")
    form.hostname.setText("box")
    form.assert_valid("qemu+ssh://root@box/system")


@pytest.mark.parametrize(
    ("user", "host", "fragment"),
    [
        ("", "my host", "spaces"),
        ("", "root@box", "Username"),
        ("bad user", "box", "spaces"),
        ("", "box:ssh", "port"),
        ("", "box:99999", "port"),
        ("", "box:", "port"),
        ("", "box/system", "'/'"),
    ],
)
def test_bad_remote_input_shows_why(form: Form, user: str, host: str, fragment: str) -> None:
    form.remote.setChecked(True)
    form.username.setText(user)
    form.hostname.setText(host)
    form.assert_invalid(fragment)


def test_unchecking_remote_goes_back_to_local(form: Form) -> None:
    form.remote.setChecked(True)
    form.assert_invalid()
    form.remote.setChecked(False)
    assert not form.hostname.isEnabled()
    form.assert_valid("qemu:///system")


def test_custom_uri_accepts_test_driver(form: Form) -> None:
    form.hypervisor.setCurrentIndex(CUSTOM)
    assert form.custom_uri.isEnabled()
    assert not form.remote.isEnabled()
    assert not form.username.isEnabled()
    assert not form.hostname.isEnabled()
    form.assert_invalid("Enter a connection URI")
    QTest.keyClicks(form.custom_uri, "test:///default")
    form.assert_valid("test:///default")


def test_custom_uri_ignores_remote_fields(form: Form) -> None:
    form.remote.setChecked(True)
    form.hostname.setText("elsewhere")
    form.hypervisor.setCurrentIndex(CUSTOM)
    assert not form.hostname.isEnabled()
    form.custom_uri.setText("  qemu+tls://host.example.com/system  ")
    form.assert_valid("qemu+tls://host.example.com/system")
    form.hypervisor.setCurrentIndex(SYSTEM)
    form.assert_valid("qemu+ssh://elsewhere/system")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("garbage", "no scheme"),
        ("http://example.com/", "Unknown hypervisor driver"),
        ("qemu://system", "three slashes"),
        ("qemu:///sys tem", "spaces"),
        ("<b>qemu</b>://", "not a valid URI scheme"),
    ],
)
def test_custom_uri_garbage_shows_error(form: Form, text: str, fragment: str) -> None:
    form.hypervisor.setCurrentIndex(CUSTOM)
    form.custom_uri.setText(text)
    form.assert_invalid(fragment)
    # User text is shown as typed, never as markup.
    assert form.error.textFormat() == Qt.TextFormat.PlainText
    assert form.generated_uri.textFormat() == Qt.TextFormat.PlainText


def test_custom_uri_field_only_shown_for_custom(form: Form) -> None:
    form.dialog.show()
    assert not form.custom_uri.isVisible()
    form.hypervisor.setCurrentIndex(CUSTOM)
    assert form.custom_uri.isVisible()
    form.hypervisor.setCurrentIndex(SESSION)
    assert not form.custom_uri.isVisible()


def test_error_text_is_red(form: Form) -> None:
    colour = form.error.palette().color(form.error.foregroundRole())
    assert colour.red() > 150
    assert colour.red() > 2 * colour.green()


def test_autoconnect_round_trips(form: Form) -> None:
    assert form.dialog.autoconnect() is True
    form.autoconnect.setChecked(False)
    assert form.dialog.autoconnect() is False
    form.autoconnect.setChecked(True)
    assert form.dialog.autoconnect() is True


def test_accept_is_refused_while_invalid(form: Form) -> None:
    form.remote.setChecked(True)
    form.dialog.accept()
    assert form.dialog.result() != AddConnectionDialog.DialogCode.Accepted.value


def test_no_input_crashes(form: Form) -> None:
    rng = random.Random(99)
    alphabet = string.printable + "é€[]@:/%"
    for i in range(400):
        form.hypervisor.setCurrentIndex(i % 3)
        form.remote.setChecked(bool(i & 4))
        junk = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        target = (form.username, form.hostname, form.custom_uri)[i % 3]
        target.setText(junk)
        assert form.ok.isEnabled() == bool(form.dialog.uri())
        assert form.ok.isEnabled() == (form.error.text() == "")


def _answer(fill: dict[str, str], *, autoconnect: bool, accept: bool) -> None:
    """Fill in the modal dialog once it is open, then press OK or Cancel."""

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, AddConnectionDialog):
            QTimer.singleShot(10, act)
            return
        form = Form(dialog)
        if "custom_uri" in fill:
            form.hypervisor.setCurrentIndex(CUSTOM)
            form.custom_uri.setText(fill["custom_uri"])
        if "hostname" in fill:
            form.remote.setChecked(True)
            form.hostname.setText(fill["hostname"])
        form.autoconnect.setChecked(autoconnect)
        if accept:
            form.ok.click()
        else:
            dialog.reject()

    QTimer.singleShot(0, act)


def test_ask_returns_uri_and_autoconnect(qapp: QApplication) -> None:
    _answer({"custom_uri": "test:///default"}, autoconnect=False, accept=True)
    assert AddConnectionDialog.ask(None) == ("test:///default", False)
    _answer({"hostname": "box"}, autoconnect=True, accept=True)
    assert AddConnectionDialog.ask(None) == ("qemu+ssh://box/system", True)


def test_ask_returns_none_on_cancel(qapp: QApplication) -> None:
    _answer({}, autoconnect=True, accept=False)
    assert AddConnectionDialog.ask(None) is None

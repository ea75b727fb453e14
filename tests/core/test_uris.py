"""Tests for vmgui.core.uris: building, checking and naming libvirt connection URIs."""

from __future__ import annotations

import random
import string

import pytest

from vmgui.core import uris
from vmgui.core.uris import (
    SESSION_URI,
    SYSTEM_URI,
    is_local,
    pretty_name,
    ssh_uri,
    validate_uri,
)


def test_constants() -> None:
    assert SYSTEM_URI == "qemu:///system"
    assert SESSION_URI == "qemu:///session"
    assert validate_uri(SYSTEM_URI) is None
    assert validate_uri(SESSION_URI) is None


@pytest.mark.parametrize(
    ("host", "user", "session", "port", "expected"),
    [
        ("host", "", False, None, "qemu+ssh://host/system"),
        ("host", "root", False, None, "qemu+ssh://root@host/system"),
        ("host", "root", False, 2222, "qemu+ssh://root@host:2222/system"),
        ("host", "alice", True, None, "qemu+ssh://alice@host/session"),
        ("kvm1.example.com", "svc-virt.2", False, None, "qemu+ssh://svc-virt.2@kvm1.example.com/system"),
        ("192.168.1.10", "", False, 22, "qemu+ssh://192.168.1.10:22/system"),
        ("::1", "", False, None, "qemu+ssh://[::1]/system"),
        ("[fe80::1]", "root", False, 2200, "qemu+ssh://root@[fe80::1]:2200/system"),
        ("  host  ", " root ", False, None, "qemu+ssh://root@host/system"),
    ],
)
def test_ssh_uri_builds(
    host: str, user: str, session: bool, port: int | None, expected: str
) -> None:
    uri = ssh_uri(host, user, session=session, port=port)
    assert uri == expected
    assert validate_uri(uri) is None
    assert not is_local(uri)


@pytest.mark.parametrize(
    ("host", "user", "port", "fragment"),
    [
        ("", "", None, "host name"),
        ("   ", "root", None, "host name"),
        ("my host", "", None, "spaces"),
        ("root@host", "", None, "Username"),
        ("host/system", "", None, "'/'"),
        ("host:22", "", None, "port"),
        ("-host", "", None, "not a valid host name"),
        ("a..b", "", None, "not a valid host name"),
        ("host!", "", None, "not a valid host name"),
        ("host", "bad user", None, "spaces"),
        ("host", "a@b", None, "'@'"),
        ("host", "a/b", None, "not a valid user name"),
        ("host", "a:pw", None, "not a valid user name"),
        ("host", "", 0, "port"),
        ("host", "", 70000, "port"),
    ],
)
def test_ssh_uri_rejects(host: str, user: str, port: int | None, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        ssh_uri(host, user, port=port)
    message = str(info.value)
    assert fragment in message
    assert message.endswith(".")


@pytest.mark.parametrize(
    "uri",
    [
        "test:///default",
        "test:///abs/path.xml",
        "test:///work/main/tests/data/host.xml",
        "qemu:///system",
        "qemu:///session",
        "qemu:///embed?root=/tmp/x",
        "qemu+ssh://root@host/system",
        "qemu+ssh://root@host:2222/system",
        "qemu+ssh://host/session",
        "qemu+ssh://[::1]:22/system",
        "qemu+libssh2://user@host/system?known_hosts=/tmp/kh",
        "qemu+tls://host.example.com/system",
        "qemu+tcp://10.0.0.1:16509/system",
        "qemu+unix:///system",
        "qemu+unix:///system?socket=/run/libvirt/virtqemud-sock",
        "qemu+ssh://host/system?keyfile=/home/u/.ssh/id&no_verify=1",
        "xen://",
        "xen:///system",
        "lxc:///",
        "lxc:///system",
        "ch:///session",
        "vbox:///session",
        "esx://esx.example.com/?no_verify=1",
    ],
)
def test_validate_accepts(uri: str) -> None:
    assert validate_uri(uri) is None


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("", "Enter a connection URI"),
        ("   ", "Enter a connection URI"),
        ("qemu", "no scheme"),
        ("/var/run/libvirt", "no scheme"),
        ("qemu:/system", "no scheme"),
        ("://host/system", "no driver"),
        ("foo:///system", "Unknown hypervisor driver 'foo'"),
        ("http://example.com/", "Unknown hypervisor driver 'http'"),
        ("qemu+carrier-pigeon://host/system", "not a valid URI scheme"),
        ("qemu+ftp://host/system", "Unknown transport 'ftp'"),
        ("QEMU:///system", "lower case"),
        ("qemu:///sys tem", "spaces"),
        (" qemu:///system", "spaces"),
        ("qemu:///system\n", "spaces"),
        ("qemu://system", "three slashes"),
        ("qemu://", "/system or /session"),
        ("qemu:///", "/system or /session"),
        ("qemu:///systen", "/system or /session"),
        ("qemu:///system/", "/system or /session"),
        ("qemu+ssh://host", "/system or /session"),
        ("qemu+ssh:///system", "needs a host name"),
        ("qemu+ssh://@host/system", "user name before '@' is empty"),
        ("qemu+ssh://root@/system", "user name but no host"),
        ("qemu+ssh://:22/system", "port but no host"),
        ("qemu+ssh://a@b@c/system", "'@'"),
        ("qemu+ssh://user:secret@host/system", "not a valid user name"),
        ("qemu+ssh://host:99999/system", "port"),
        ("qemu+ssh://host:0/system", "port"),
        ("qemu+ssh://host:ssh/system", "port"),
        ("qemu+ssh://::1/system", "square brackets"),
        ("qemu+ssh://[::1/system", "square brackets"),
        ("qemu+ssh://ho!st/system", "not a valid host name"),
        ("qemu:///system#frag", "'#'"),
        ("test://default", "three slashes"),
        ("test:///", "needs a path"),
        ("test://", "needs a path"),
    ],
)
def test_validate_rejects(uri: str, fragment: str) -> None:
    message = validate_uri(uri)
    assert message is not None
    assert fragment in message
    assert message[0].isupper() or message.startswith("'")


@pytest.mark.parametrize(
    ("uri", "name"),
    [
        ("qemu:///system", "QEMU/KVM"),
        ("qemu:///session", "QEMU/KVM User session"),
        ("qemu+unix:///system", "QEMU/KVM"),
        ("qemu+ssh://host/system", "QEMU/KVM: host"),
        ("qemu+ssh://root@host/system", "QEMU/KVM: root@host"),
        ("qemu+ssh://root@host:2222/system", "QEMU/KVM: root@host:2222"),
        ("qemu+ssh://alice@host/session", "QEMU/KVM User session: alice@host"),
        ("qemu+tls://Kvm.Example.com/system", "QEMU/KVM: Kvm.Example.com"),
        ("qemu+ssh://[::1]/system", "QEMU/KVM: [::1]"),
        ("test:///default", "Test: default"),
        ("test:///work/main/tests/data/host.xml", "Test: host.xml"),
        ("test:///tmp/my%20host.xml", "Test: my host.xml"),
        ("test+tcp://box/default", "Test: default on box"),
        ("xen:///system", "Xen"),
        ("lxc:///", "LXC"),
        ("lxc+ssh://root@h/", "LXC: root@h"),
        # Anything vmgui cannot name nicely shows as typed.
        ("qemu:///embed?root=/tmp/x", "qemu:///embed?root=/tmp/x"),
        ("network:///system", "network:///system"),
        ("garbage", "garbage"),
        ("", ""),
        ("qemu+ssh://[::1/system", "qemu+ssh://[::1/system"),
    ],
)
def test_pretty_name(uri: str, name: str) -> None:
    assert pretty_name(uri) == name


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("qemu:///system", True),
        ("qemu:///session", True),
        ("qemu+unix:///system", True),
        ("test:///default", True),
        ("lxc:///", True),
        ("xen://", True),
        ("qemu+ssh://host/system", False),
        ("qemu+ssh://root@host:22/system", False),
        ("qemu+tcp://10.0.0.1/system", False),
        ("qemu+ssh://[::1]/system", False),
    ],
)
def test_is_local(uri: str, local: bool) -> None:
    assert is_local(uri) is local


def test_ssh_uri_round_trips_through_pretty_name() -> None:
    uri = ssh_uri("kvm.example.org", "root", port=2022, session=True)
    assert pretty_name(uri) == "QEMU/KVM User session: root@kvm.example.org:2022"


def test_no_input_crashes() -> None:
    """Random junk never raises from the checking helpers and always gets an answer."""
    rng = random.Random(1234)
    alphabet = string.ascii_letters + string.digits + ":/@[]%?#&=+.-_ \t\\'\"é"
    prefixes = ["", "qemu://", "qemu+ssh://", "test://", "xen:", "lxc:///", "://", "qemu+"]
    for _ in range(3000):
        text = rng.choice(prefixes) + "".join(
            rng.choice(alphabet) for _ in range(rng.randint(0, 24))
        )
        result = validate_uri(text)
        assert result is None or (isinstance(result, str) and result)
        assert isinstance(pretty_name(text), str)
        assert isinstance(is_local(text), bool)
        try:
            built = ssh_uri(text, text[:5], port=rng.choice([None, 22, 0]))
        except ValueError as err:
            assert str(err)
        else:
            assert validate_uri(built) is None, built


def test_module_has_no_qt() -> None:
    source = uris.__file__
    with open(source, encoding="utf-8") as handle:
        assert "PySide6" not in handle.read()

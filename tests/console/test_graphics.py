"""Reading a guest's <graphics> devices from its domain XML, and choosing how to reach them."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from vmgui.console.graphics import Endpoint, Graphics, console_graphics, graphics_of, host_of_uri, tcp_endpoint


def domain(*graphics: str) -> str:
    return ("<domain type='kvm'><name>g</name><devices><disk type='file'/>"
            + "".join(graphics) + "<video><model type='virtio'/></video></devices></domain>")


def device(**changes: Any) -> Graphics:
    base = Graphics(index=0, type="vnc", port=5900, tls_port=None, autoport=True, listen="", socket="", password="")
    return replace(base, **changes)


# ---- graphics_of ------------------------------------------------------------------------------------------


def test_a_vnc_display_with_a_fixed_port() -> None:
    xml = domain("<graphics type='vnc' port='5901' autoport='no' listen='127.0.0.1'/>")
    assert graphics_of(xml) == [Graphics(index=0, type="vnc", port=5901, tls_port=None, autoport=False,
                                         listen="127.0.0.1", socket="", password="")]


def test_autoport_before_the_guest_runs_has_no_port() -> None:
    xml = domain("<graphics type='vnc' port='-1' autoport='yes'><listen type='address'/></graphics>")
    [g] = graphics_of(xml)
    assert g.port is None and g.autoport is True and g.listen == ""


def test_autoport_while_running_has_the_allocated_port() -> None:
    xml = domain("<graphics type='vnc' port='5903' autoport='yes' listen='0.0.0.0'>"
                 "<listen type='address' address='0.0.0.0'/></graphics>")
    [g] = graphics_of(xml)
    assert (g.port, g.autoport, g.listen) == (5903, True, "0.0.0.0")


@pytest.mark.parametrize("port", ["0", "65536", "abc", "", "-5900"])
def test_ports_out_of_range_or_garbage_are_none(port: str) -> None:
    [g] = graphics_of(domain(f"<graphics type='vnc' port='{port}' tlsPort='{port}'/>"))
    assert g.port is None and g.tls_port is None


def test_no_port_attribute_at_all() -> None:
    [g] = graphics_of(domain("<graphics type='vnc'/>"))
    assert (g.port, g.tls_port, g.autoport, g.listen, g.socket, g.password) == (None, None, False, "", "", "")


def test_the_listen_element_wins_over_the_attribute() -> None:
    xml = domain("<graphics type='vnc' port='5900' listen='127.0.0.1'>"
                 "<listen type='address' address='192.168.10.5'/></graphics>")
    assert graphics_of(xml)[0].listen == "192.168.10.5"


def test_a_listen_element_without_an_address_keeps_the_attribute() -> None:
    xml = domain("<graphics type='vnc' port='5900' listen='10.0.0.7'><listen type='address'/></graphics>")
    assert graphics_of(xml)[0].listen == "10.0.0.7"


def test_only_a_listen_element() -> None:
    xml = domain("<graphics type='vnc' port='5900'><listen type='address' address='::1'/></graphics>")
    assert graphics_of(xml)[0].listen == "::1"


def test_a_network_listen_uses_the_address_libvirt_resolved_into_the_attribute() -> None:
    # Live XML of a type='network' listen: libvirt copies the resolved address into graphics/@listen.
    xml = domain("<graphics type='vnc' port='5900' autoport='yes' listen='192.168.122.1'>"
                 "<listen type='network' address='192.168.122.1' network='default'/></graphics>")
    assert graphics_of(xml)[0].listen == "192.168.122.1"


def test_a_unix_socket_listen() -> None:
    path = "/run/libvirt/qemu/vnc-g.sock"
    xml = domain(f"<graphics type='vnc'><listen type='socket' socket='{path}'/></graphics>")
    [g] = graphics_of(xml)
    assert (g.socket, g.port, g.listen) == (path, None, "")


def test_the_old_socket_attribute() -> None:
    [g] = graphics_of(domain("<graphics type='vnc' socket='/tmp/vnc.sock'/>"))
    assert g.socket == "/tmp/vnc.sock"


def test_the_password_is_read_when_the_xml_has_it() -> None:
    xml = domain("<graphics type='vnc' port='5900' passwd='hunter2' passwdValidTo='2030-01-01T00:00:00'/>")
    assert graphics_of(xml)[0].password == "hunter2"


def test_spice_and_vnc_in_document_order_with_their_indexes() -> None:
    xml = domain("<graphics type='spice' port='5900' tlsPort='5901' autoport='yes'/>",
                 "<graphics type='vnc' port='5902' autoport='yes'/>")
    found = graphics_of(xml)
    assert [(g.index, g.type, g.port, g.tls_port) for g in found] == [(0, "spice", 5900, 5901),
                                                                      (1, "vnc", 5902, None)]


def test_graphics_outside_devices_are_ignored() -> None:
    xml = "<domain><graphics type='vnc' port='5900'/><devices/></domain>"
    assert graphics_of(xml) == []


# ---- console_graphics -------------------------------------------------------------------------------------


SPICE_THEN_VNC = domain("<graphics type='spice' port='5900'/>", "<graphics type='vnc' port='5902'/>",
                        "<graphics type='vnc' port='5903'/>")


def test_console_graphics_takes_the_first_vnc_or_spice_device_as_virt_manager_does() -> None:
    g = console_graphics(SPICE_THEN_VNC)
    assert g is not None and (g.index, g.type, g.port) == (0, "spice", 5900)
    g = console_graphics(SPICE_THEN_VNC, ("vnc",))
    assert g is not None and (g.index, g.type, g.port) == (1, "vnc", 5902)  # the first VNC one


def test_console_graphics_follows_the_document_order() -> None:
    vnc_first = domain("<graphics type='vnc' port='5902'/>", "<graphics type='spice' port='5900'/>")
    g = console_graphics(vnc_first, ("spice", "vnc"))
    assert g is not None and (g.index, g.type) == (0, "vnc")


def test_console_graphics_none_when_no_preferred_kind() -> None:
    assert console_graphics(domain("<graphics type='spice' port='5900'/>"), ("vnc",)) is None
    assert console_graphics(domain()) is None
    assert console_graphics(domain("<graphics type='sdl' display=':0'/>"), ("vnc", "spice")) is None


# ---- Endpoint.describe ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "text"), [
    (Endpoint("tcp", host="127.0.0.1", port=5900), "127.0.0.1:5900"),
    (Endpoint("tcp", host="host.example", port=5901), "host.example:5901"),
    (Endpoint("tcp", host="::1", port=5902), "[::1]:5902"),
    (Endpoint("tcp", host="2001:db8::5", port=5903), "[2001:db8::5]:5903"),
    (Endpoint("unix", path="/run/vnc.sock"), "/run/vnc.sock"),
    (Endpoint("fd", fd=7), "a socket from libvirt"),
])
def test_describe(endpoint: Endpoint, text: str) -> None:
    assert endpoint.describe() == text


def test_describe_never_shows_the_password() -> None:
    assert "pw" not in Endpoint("tcp", host="h", port=1, password="pw").describe()


# ---- tcp_endpoint -----------------------------------------------------------------------------------------

LOCAL = "qemu:///system"
REMOTE = "qemu+ssh://root@virt.example.com/system"


@pytest.mark.parametrize(("listen", "host"), [
    ("", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"), ("[::]", "127.0.0.1"),
    ("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("[::1]", "::1"), ("192.168.10.5", "192.168.10.5"),
])
def test_local_uri_uses_loopback_or_the_listen_address(listen: str, host: str) -> None:
    ep = tcp_endpoint(device(port=5905, listen=listen, password="pw"), LOCAL)
    assert ep == Endpoint("tcp", host=host, port=5905, password="pw")


@pytest.mark.parametrize("listen", ["", "0.0.0.0", "::", "[::]"])
def test_remote_uri_with_an_any_address_uses_the_uris_host(listen: str) -> None:
    ep = tcp_endpoint(device(port=5900, listen=listen), REMOTE)
    assert ep == Endpoint("tcp", host="virt.example.com", port=5900)


def test_remote_ipv6_uri_host() -> None:
    ep = tcp_endpoint(device(port=5900, listen="0.0.0.0"), "qemu+ssh://root@[2001:db8::7]/system")
    assert (ep.host, ep.describe()) == ("2001:db8::7", "[2001:db8::7]:5900")


def test_remote_uri_with_a_specific_listen_address_uses_it() -> None:
    ep = tcp_endpoint(device(port=5900, listen="10.1.2.3"), "qemu+tls://virt.example.com/system")
    assert ep.host == "10.1.2.3"


@pytest.mark.parametrize("listen", ["127.0.0.1", "::1", "[::1]", "localhost"])
def test_remote_uri_with_a_loopback_listen_cannot_be_reached(listen: str) -> None:
    with pytest.raises(ValueError, match=re.escape("listens only on virt.example.com's loopback address")) as err:
        tcp_endpoint(device(port=5900, listen=listen), REMOTE)
    assert listen in str(err.value) and "change its listen address" in str(err.value)


@pytest.mark.parametrize("uri", ["qemu+ssh://root@localhost/system", "qemu+tcp://127.0.0.1/system"])
def test_a_loopback_uri_host_is_this_machine(uri: str) -> None:
    assert tcp_endpoint(device(port=5900, listen="127.0.0.1"), uri) == Endpoint("tcp", host="127.0.0.1", port=5900)
    assert tcp_endpoint(device(port=5900, listen=""), uri) == Endpoint("tcp", host="127.0.0.1", port=5900)


def test_a_socket_on_a_local_host_is_a_unix_endpoint() -> None:
    ep = tcp_endpoint(device(port=None, socket="/run/vnc.sock", password="pw"), LOCAL)
    assert ep == Endpoint("unix", path="/run/vnc.sock", password="pw")


def test_a_socket_on_a_remote_host_cannot_be_reached() -> None:
    with pytest.raises(ValueError, match=re.escape("unix socket on virt.example.com")):
        tcp_endpoint(device(port=None, socket="/run/vnc.sock"), REMOTE)


@pytest.mark.parametrize("uri", [LOCAL, REMOTE])
def test_no_port_means_the_guest_is_not_running(uri: str) -> None:
    with pytest.raises(ValueError, match="no port yet"):
        tcp_endpoint(device(port=None), uri)


def test_from_xml_to_endpoint() -> None:
    xml = domain("<graphics type='vnc' port='5907' autoport='yes' listen='0.0.0.0' passwd='s3cret'>"
                 "<listen type='address' address='0.0.0.0'/></graphics>")
    g = console_graphics(xml)
    assert g is not None
    assert tcp_endpoint(g, REMOTE) == Endpoint("tcp", host="virt.example.com", port=5907, password="s3cret")
    assert tcp_endpoint(g, LOCAL) == Endpoint("tcp", host="127.0.0.1", port=5907, password="s3cret")


@pytest.mark.parametrize(("uri", "host"), [
    ("qemu:///system", ""), ("qemu:///session", ""), ("test:///default", ""),
    ("qemu+ssh://user@host.example/system", "host.example"), ("qemu+tcp://10.0.0.2:16509/system", "10.0.0.2"),
    ("qemu+ssh://[fe80::1]/system", "fe80::1"),
])
def test_host_of_uri(uri: str, host: str) -> None:
    assert host_of_uri(uri) == host

"""A libvirt test-driver host whose guests' VNC displays point at fake RFB servers (for console tests)."""

from __future__ import annotations

from pathlib import Path

HOST = """<?xml version='1.0'?>
<node>
  <cpu><mhz>3000</mhz><model>i686</model><active>2</active><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads></cpu>
  <memory>8388608</memory>
{domains}</node>
"""
DOMAIN = """  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>{name}</name>
    <uuid>{uuid}</uuid>
    <memory unit='MiB'>1024</memory>
    <vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>{graphics}</devices>
    <test:runstate>{state}</test:runstate>
  </domain>
"""
UUIDS = {"desk": "0000000c-0000-4000-8000-000000000001", "off": "0000000c-0000-4000-8000-000000000002",
         "spice-only": "0000000c-0000-4000-8000-000000000003", "headless": "0000000c-0000-4000-8000-000000000004"}


def write_host(directory: Path, vnc_port: int) -> str:
    """test:/// URI of a host with 'desk' (running, VNC on vnc_port), 'off' (shut off, VNC), 'spice-only'
    (running, SPICE only) and 'headless' (running, no graphics)."""
    vnc = f"<graphics type='vnc' port='{vnc_port}' autoport='no' listen='127.0.0.1'/>"
    domains = [
        DOMAIN.format(name="desk", uuid=UUIDS["desk"], graphics=vnc, state=1),
        DOMAIN.format(name="off", uuid=UUIDS["off"], graphics=vnc, state=5),
        DOMAIN.format(name="spice-only", uuid=UUIDS["spice-only"],
                      graphics="<graphics type='spice' port='5999' autoport='no'/>", state=1),
        DOMAIN.format(name="headless", uuid=UUIDS["headless"], graphics="", state=1),
    ]
    path = directory / "console-host.xml"
    path.write_text(HOST.format(domains="".join(domains)))
    return f"test://{path}"

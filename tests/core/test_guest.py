"""Reading guests: the bulk reader gives exactly what reading each guest on its own gives."""

from __future__ import annotations

import libvirt

from vmgui.core.guest import read_guest, read_guests


def test_bulk_read_matches_single_reads(aloop: object, host_uri: str) -> None:
    conn = libvirt.open(host_uri)
    web = conn.lookupByName("web-frontend")
    web.setAutostart(1)
    web.managedSave(0)
    xml = conn.lookupByName("db-primary").XMLDesc(0).replace("db-primary", "transient-one")
    xml = xml.replace("00000002-1111-2222-3333-000000000002", "00000077-1111-2222-3333-000000000077")
    conn.createXML(xml, 0)  # transient: running, not persistent
    domains = conn.listAllDomains(0)
    bulk = {g.uuid: g for g in read_guests(conn, domains)}
    single = {g.uuid: g for g in (read_guest(d) for d in domains)}
    assert bulk == single and len(bulk) == 10
    by_name = {g.name: g for g in bulk.values()}
    assert by_name["web-frontend"].autostart and by_name["web-frontend"].has_managed_save
    assert by_name["transient-one"].persistent is False
    conn.close()


def test_a_guest_gone_meanwhile_is_left_out(aloop: object, host_uri: str) -> None:
    conn = libvirt.open(host_uri)
    domains = conn.listAllDomains(0)
    conn.lookupByName("old-ci-runner").undefine()
    assert "old-ci-runner" not in {g.name for g in read_guests(conn, domains)}
    conn.close()

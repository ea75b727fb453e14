"""GuestTreeModel on its own: sorting by any column, filtering, live re-ordering, persistent indexes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt
from pytestqt.qtbot import QtBot

from tests.helpers import run, wait_until
from vmgui.core.connection import Connection
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.lifecycle import Action
from vmgui.core.stats import GuestStats, sample_from_record
from vmgui.ui.guest_model import Column, GuestTreeModel
from vmgui.ui.roles import HISTORY_ROLE


@pytest.fixture
def model(aloop: asyncio.AbstractEventLoop, host_uri: str) -> Iterator[GuestTreeModel]:
    manager = ConnectionManager(stats_interval=0)
    m = GuestTreeModel(manager)
    run(manager.add(host_uri).connect())
    yield m
    run(manager.close_all())
    m.detach()


def names(m: GuestTreeModel, column: int = Column.NAME) -> list[str]:
    parent = m.index(0, 0)
    return [m.index(r, column, parent).data() for r in range(m.rowCount(parent))]


def conn_of(m: GuestTreeModel) -> Connection:
    c = m.connection_at(m.index(0, 0))
    assert c is not None
    return c


def uuid_of(m: GuestTreeModel, name: str) -> str:
    return next(g.uuid for g in conn_of(m).guests.values() if g.name == name)


def fake_cpu(percent: float) -> GuestStats:
    a = sample_from_record(0.0, {"cpu.time": 0, "vcpu.current": 1})
    b = sample_from_record(1.0, {"cpu.time": int(percent * 1e7), "vcpu.current": 1})
    return GuestStats.first(a).advanced(b)


def test_sorted_by_name_then_descending(model: GuestTreeModel) -> None:
    assert names(model) == sorted(names(model), key=str.casefold) and len(names(model)) == 9
    model.sort(Column.NAME, Qt.SortOrder.DescendingOrder)
    assert names(model) == sorted(names(model), key=str.casefold, reverse=True)


def test_sort_by_state_keeps_ties_in_name_order(model: GuestTreeModel) -> None:
    model.sort(Column.STATE)
    rows = list(zip(names(model, Column.STATE), names(model), strict=True))
    # host.xml gives no reasons, so the shown state is the sort key itself
    assert rows == sorted(rows, key=lambda r: (r[0], r[1].casefold()))
    assert rows[0] == ("Crashed", "crashed-guest") and rows[-1] == ("Suspended", "suspended-laptop")


def test_sort_by_cpu_follows_stats_ticks(model: GuestTreeModel, qtbot: QtBot) -> None:
    conn = conn_of(model)
    running = ["web-frontend", "db-primary", "build-agent"]
    for name, pct in zip(running, (10.0, 80.0, 40.0), strict=True):
        conn.stats[uuid_of(model, name)] = fake_cpu(pct)
    model.sort(Column.CPU, Qt.SortOrder.DescendingOrder)
    assert names(model)[:3] == ["db-primary", "build-agent", "web-frontend"]
    keep = QPersistentModelIndex(model.index_of_guest(conn, uuid_of(model, "web-frontend")))
    conn.stats[uuid_of(model, "web-frontend")] = fake_cpu(95.0)
    conn.stats_updated.emit()
    wait_until(lambda: names(model)[0] == "web-frontend", what="re-sorted after the tick")
    assert keep.isValid() and keep.row() == 0 and keep.data() == "web-frontend"
    history = model.index(0, Column.CPU, model.index(0, 0)).data(HISTORY_ROLE)
    assert history == [pytest.approx(0.95)]


def test_filter_and_a_guest_that_starts_matching(model: GuestTreeModel) -> None:
    model.set_query("state:running")
    assert set(names(model)) == {"web-frontend", "db-primary", "build-agent"}
    conn = conn_of(model)
    run(conn.perform(uuid_of(model, "old-ci-runner"), Action.START))
    wait_until(lambda: "old-ci-runner" in names(model), what="started guest appears under the filter")
    run(conn.perform(uuid_of(model, "web-frontend"), Action.PAUSE))
    wait_until(lambda: "web-frontend" not in names(model), what="paused guest leaves the filter")
    assert names(model) == sorted(names(model), key=str.casefold)
    model.set_query("")
    assert len(names(model)) == 9


def test_state_change_moves_the_row_when_sorted_by_state(model: GuestTreeModel) -> None:
    model.sort(Column.STATE)
    conn = conn_of(model)
    uuid = uuid_of(model, "win11-template")
    keep = QPersistentModelIndex(model.index_of_guest(conn, uuid))
    run(conn.perform(uuid, Action.START))
    wait_until(lambda: model.index(keep.row(), Column.STATE, model.index(0, 0)).data().startswith("Running"),
               what="row moved with its state")
    states = [s.split(" (")[0] for s in names(model, Column.STATE)]
    assert states == sorted(states)
    assert keep.data() == "win11-template"


def test_disconnect_removes_the_guest_rows_but_not_the_connection(model: GuestTreeModel) -> None:
    assert model.rowCount() == 1
    run(conn_of(model).disconnect())
    assert model.rowCount() == 1 and model.rowCount(model.index(0, 0)) == 0

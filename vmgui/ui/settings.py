"""What vmgui remembers between runs (QSettings): connections, window geometry, stats interval, console keys."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QSettings

from vmgui.core import stats

# The choices offered for releasing a console's keyboard grab: combo -> label (virt-viewer uses Shift+F12).
RELEASE_COMBOS = {"ctrl+alt": "Ctrl+Alt", "ctrl+alt+shift": "Ctrl+Alt+Shift", "shift+f12": "Shift+F12"}
DEFAULT_RELEASE_COMBO = "ctrl+alt"


@dataclass(frozen=True)
class SavedConnection:
    uri: str
    autoconnect: bool = True


class Settings:
    """Typed access to a QSettings store; tests pass their own QSettings on a temporary file."""

    def __init__(self, store: QSettings | None = None) -> None:
        self._store = store if store is not None else QSettings("vmgui", "vmgui")

    def connections(self) -> list[SavedConnection]:
        result = []
        size = self._store.beginReadArray("connections")
        for i in range(size):
            self._store.setArrayIndex(i)
            uri = str(self._store.value("uri", "") or "")
            if uri:
                auto = self._store.value("autoconnect", True)
                result.append(SavedConnection(uri, auto in (True, "true", "1", 1)))
        self._store.endArray()
        return result

    def set_connections(self, connections: list[SavedConnection]) -> None:
        self._store.remove("connections")
        self._store.beginWriteArray("connections", len(connections))
        for i, saved in enumerate(connections):
            self._store.setArrayIndex(i)
            self._store.setValue("uri", saved.uri)
            self._store.setValue("autoconnect", saved.autoconnect)
        self._store.endArray()
        self._store.sync()

    def remember_connection(self, uri: str, autoconnect: bool) -> None:
        saved = [c for c in self.connections() if c.uri != uri]
        saved.append(SavedConnection(uri, autoconnect))
        self.set_connections(saved)

    def forget_connection(self, uri: str) -> None:
        self.set_connections([c for c in self.connections() if c.uri != uri])

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def window_geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    def header_state(self) -> QByteArray | None:
        return self._bytes("window/header")

    def save_window(self, geometry: QByteArray, header: QByteArray) -> None:
        self._store.setValue("window/geometry", geometry)
        self._store.setValue("window/header", header)
        self._store.sync()

    def set_stats_interval(self, seconds: float) -> None:
        self._store.setValue("stats/interval", float(seconds))
        self._store.sync()

    def stats_interval(self) -> float:
        try:
            return max(0.0, float(self._store.value("stats/interval", stats.DEFAULT_INTERVAL)))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return stats.DEFAULT_INTERVAL

    def release_combo(self) -> str:
        """The key combination that releases a console's keyboard grab ('ctrl+alt' unless changed)."""
        value = str(self._store.value("console/release_combo", DEFAULT_RELEASE_COMBO) or DEFAULT_RELEASE_COMBO)
        return value if value in RELEASE_COMBOS else DEFAULT_RELEASE_COMBO

    def set_release_combo(self, combo: str) -> None:
        if combo not in RELEASE_COMBOS:
            raise ValueError(f"unknown release combination '{combo}'")
        self._store.setValue("console/release_combo", combo)
        self._store.sync()

"""Guest run states and their reasons as words: the libvirt state enums made readable."""

from __future__ import annotations

from enum import Enum

import libvirt


class GuestState(Enum):
    NOSTATE = "nostate"
    RUNNING = "running"
    BLOCKED = "blocked"
    PAUSED = "paused"
    SHUTDOWN = "shutdown"  # shutting down
    SHUTOFF = "shutoff"
    CRASHED = "crashed"
    PMSUSPENDED = "pmsuspended"

    @classmethod
    def from_libvirt(cls, state: int) -> GuestState:
        return _FROM_LIBVIRT.get(state, cls.NOSTATE)

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_active(self) -> bool:
        """The guest has a QEMU process (anything but shut off or crashed)."""
        return self not in (GuestState.SHUTOFF, GuestState.CRASHED)


_FROM_LIBVIRT = {
    libvirt.VIR_DOMAIN_NOSTATE: GuestState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: GuestState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: GuestState.BLOCKED,
    libvirt.VIR_DOMAIN_PAUSED: GuestState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: GuestState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: GuestState.SHUTOFF,
    libvirt.VIR_DOMAIN_CRASHED: GuestState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: GuestState.PMSUSPENDED,
}

_LABELS = {
    GuestState.NOSTATE: "No state",
    GuestState.RUNNING: "Running",
    GuestState.BLOCKED: "Running (blocked)",
    GuestState.PAUSED: "Paused",
    GuestState.SHUTDOWN: "Shutting down",
    GuestState.SHUTOFF: "Shut off",
    GuestState.CRASHED: "Crashed",
    GuestState.PMSUSPENDED: "Suspended",
}

_REASONS: dict[GuestState, dict[int, str]] = {
    GuestState.RUNNING: {
        libvirt.VIR_DOMAIN_RUNNING_BOOTED: "booted",
        libvirt.VIR_DOMAIN_RUNNING_MIGRATED: "migrated",
        libvirt.VIR_DOMAIN_RUNNING_RESTORED: "restored",
        libvirt.VIR_DOMAIN_RUNNING_FROM_SNAPSHOT: "from snapshot",
        libvirt.VIR_DOMAIN_RUNNING_UNPAUSED: "resumed",
        libvirt.VIR_DOMAIN_RUNNING_MIGRATION_CANCELED: "migration cancelled",
        libvirt.VIR_DOMAIN_RUNNING_SAVE_CANCELED: "save cancelled",
        libvirt.VIR_DOMAIN_RUNNING_WAKEUP: "woken up",
        libvirt.VIR_DOMAIN_RUNNING_CRASHED: "crashed, still running",
    },
    GuestState.PAUSED: {
        libvirt.VIR_DOMAIN_PAUSED_USER: "by user",
        libvirt.VIR_DOMAIN_PAUSED_MIGRATION: "migrating",
        libvirt.VIR_DOMAIN_PAUSED_SAVE: "saving",
        libvirt.VIR_DOMAIN_PAUSED_DUMP: "dumping core",
        libvirt.VIR_DOMAIN_PAUSED_IOERROR: "disk I/O error",
        libvirt.VIR_DOMAIN_PAUSED_WATCHDOG: "watchdog",
        libvirt.VIR_DOMAIN_PAUSED_FROM_SNAPSHOT: "from snapshot",
        libvirt.VIR_DOMAIN_PAUSED_SHUTTING_DOWN: "shutting down",
        libvirt.VIR_DOMAIN_PAUSED_SNAPSHOT: "taking snapshot",
        libvirt.VIR_DOMAIN_PAUSED_CRASHED: "crashed",
        libvirt.VIR_DOMAIN_PAUSED_STARTING_UP: "starting up",
    },
    GuestState.SHUTOFF: {
        libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN: "shut down",
        libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED: "forced off",
        libvirt.VIR_DOMAIN_SHUTOFF_CRASHED: "crashed",
        libvirt.VIR_DOMAIN_SHUTOFF_MIGRATED: "migrated away",
        libvirt.VIR_DOMAIN_SHUTOFF_SAVED: "saved",
        libvirt.VIR_DOMAIN_SHUTOFF_FAILED: "failed to start",
        libvirt.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT: "from snapshot",
    },
    GuestState.CRASHED: {libvirt.VIR_DOMAIN_CRASHED_PANICKED: "guest panicked"},
    GuestState.SHUTDOWN: {libvirt.VIR_DOMAIN_SHUTDOWN_USER: "by user"},
}


def reason_text(state: GuestState, reason: int) -> str:
    """A few words on why the guest is in this state, or '' when libvirt gives no useful reason."""
    return _REASONS.get(state, {}).get(reason, "")

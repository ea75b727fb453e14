"""Guest lifecycle actions: which apply in which state, how to confirm them, and running them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import libvirt

from vmgui.core.domstate import GuestState
from vmgui.core.errors import VmguiError, describe
from vmgui.core.guest import GuestInfo

_RUNNING = {GuestState.RUNNING, GuestState.BLOCKED}
_ALIVE = _RUNNING | {GuestState.PAUSED, GuestState.SHUTDOWN, GuestState.PMSUSPENDED, GuestState.NOSTATE}


class Action(Enum):
    START = "start"
    SHUTDOWN = "shutdown"
    REBOOT = "reboot"
    FORCE_OFF = "force_off"
    PAUSE = "pause"
    RESUME = "resume"
    SAVE = "save"


@dataclass(frozen=True)
class ActionInfo:
    label: str          # menu text
    doing: str          # for messages: "Could not <doing> 'guest'"
    confirm: str = ""   # non-empty: ask before doing it, with this warning


ACTIONS: dict[Action, ActionInfo] = {
    Action.START: ActionInfo("Start", "start"),
    Action.SHUTDOWN: ActionInfo(
        "Shut Down", "shut down",
        "The guest operating system is asked to shut down; unsaved work in it may be lost."),
    Action.REBOOT: ActionInfo(
        "Reboot", "reboot", "The guest operating system is asked to restart; unsaved work may be lost."),
    Action.FORCE_OFF: ActionInfo(
        "Force Off", "force off",
        "This pulls the plug: the guest stops at once, and data not yet written to its disks is lost."),
    Action.PAUSE: ActionInfo("Pause", "pause"),
    Action.RESUME: ActionInfo("Resume", "resume"),
    Action.SAVE: ActionInfo("Save", "save"),
}


def applies(action: Action, guest: GuestInfo) -> bool:
    """Whether the action makes sense for the guest in its current state."""
    state = guest.state
    if action is Action.START:
        return state in (GuestState.SHUTOFF, GuestState.CRASHED)
    if action in (Action.SHUTDOWN, Action.REBOOT):
        return state in _RUNNING
    if action is Action.FORCE_OFF:
        return state in _ALIVE or (state is GuestState.CRASHED and guest.id >= 0)
    if action is Action.PAUSE:
        return state in _RUNNING
    if action is Action.RESUME:
        return state is GuestState.PAUSED
    if action is Action.SAVE:
        return guest.persistent and state in (_RUNNING | {GuestState.PAUSED})
    return False


def perform(dom: libvirt.virDomain, action: Action) -> None:
    """Run the action (blocking); a failure raises VmguiError with a clear message."""
    calls = {
        Action.START: dom.create,
        Action.SHUTDOWN: dom.shutdown,
        Action.REBOOT: lambda: dom.reboot(0),
        Action.FORCE_OFF: dom.destroy,
        Action.PAUSE: dom.suspend,
        Action.RESUME: dom.resume,
        Action.SAVE: lambda: dom.managedSave(0),
    }
    try:
        calls[action]()
    except libvirt.libvirtError as err:
        raise VmguiError(describe(err, f"{ACTIONS[action].doing} '{dom.name()}'")) from err

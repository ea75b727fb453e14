"""The search box's words matched against a guest's name, title, state and tags."""

from __future__ import annotations

from vmgui.core.guest import GuestInfo


def matches(guest: GuestInfo, query: str) -> bool:
    """Every word must match: 'tag:x' a tag, 'state:x' the state, else name, title, state or a tag."""
    for word in query.casefold().split():
        key, _, value = word.partition(":")
        tags = [t.casefold() for t in guest.tags]
        state = guest.state_text.casefold()
        if value and key == "tag":
            ok = any(value in t for t in tags)
        elif value and key == "state":
            ok = value in state or value == guest.state.value
        else:
            ok = (word in guest.name.casefold() or word in guest.title.casefold() or word in state
                  or any(word in t for t in tags))
        if not ok:
            return False
    return True

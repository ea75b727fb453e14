"""Turns libvirt errors into messages a person can act on."""

from __future__ import annotations

import libvirt

# Hints for the libvirt error codes people meet most; the libvirt text follows the hint.
_HINTS: dict[int, str] = {
    libvirt.VIR_ERR_NO_CONNECT: "The hypervisor connection is not open.",
    libvirt.VIR_ERR_AUTH_FAILED: "Authentication failed: check the user name, keys or password.",
    libvirt.VIR_ERR_AUTH_CANCELLED: "Authentication was cancelled.",
    libvirt.VIR_ERR_ACCESS_DENIED: "Permission denied: your user may not do this on this host.",
    libvirt.VIR_ERR_NO_DOMAIN: "The guest no longer exists (it may have been removed elsewhere).",
    libvirt.VIR_ERR_OPERATION_TIMEOUT: "The host did not answer in time.",
    libvirt.VIR_ERR_AGENT_UNRESPONSIVE: "The guest agent does not answer.",
    libvirt.VIR_ERR_NO_SUPPORT: "This host's hypervisor does not support that.",
}


class VmguiError(Exception):
    """An error with a message fit to show the user as is."""


def libvirt_message(err: libvirt.libvirtError) -> str:
    """The libvirt error text without its 'internal error:' style prefixes."""
    text = (err.get_error_message() or str(err)).strip()
    for prefix in ("internal error: ", "operation failed: ", "Requested operation is not valid: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text[:1].upper() + text[1:] if text else "Unknown libvirt error."


def describe(err: BaseException, doing: str) -> str:
    """'Could not <doing>: <hint> <libvirt text>' for a libvirt error; the plain text otherwise."""
    if isinstance(err, libvirt.libvirtError):
        hint = _HINTS.get(err.get_error_code() or 0, "")
        detail = libvirt_message(err)
        body = f"{hint} ({detail})" if hint else detail
    else:
        body = str(err) or type(err).__name__
    return f"Could not {doing}: {body}"


def silence_default_handler() -> None:
    """Stop libvirt printing every error to stderr; vmgui reports them itself."""
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

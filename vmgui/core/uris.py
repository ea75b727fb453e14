"""libvirt connection URIs: build SSH URIs, check typed ones and name them for people."""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SYSTEM_URI = "qemu:///system"
SESSION_URI = "qemu:///session"

# Hypervisor drivers libvirt knows (the part of the scheme before any '+transport').
_DRIVERS: frozenset[str] = frozenset({
    "qemu", "test", "xen", "libxl", "lxc", "vbox", "vmwareplayer", "vmwarews", "vmwarefusion",
    "esx", "gsx", "vpx", "hyperv", "openvz", "bhyve", "ch", "vz", "parallels", "uml", "phyp",
    "remote", "network", "nodedev", "nwfilter", "secret", "storage", "interface",
})
# Transports of the remote driver ('qemu+ssh' and friends).
_TRANSPORTS: frozenset[str] = frozenset({"ssh", "libssh", "libssh2", "tls", "tcp", "unix", "ext"})
_SSH_TRANSPORTS: frozenset[str] = frozenset({"ssh", "libssh", "libssh2"})
_QEMU_PATHS: frozenset[str] = frozenset({"/system", "/session", "/embed"})

# What the connection tree calls each driver.
_DRIVER_LABELS: dict[str, str] = {
    "qemu": "QEMU/KVM",
    "test": "Test",
    "xen": "Xen",
    "libxl": "Xen",
    "lxc": "LXC",
    "vbox": "VirtualBox",
    "esx": "VMware ESX",
    "hyperv": "Hyper-V",
    "openvz": "OpenVZ",
    "bhyve": "bhyve",
    "ch": "Cloud Hypervisor",
    "vz": "Virtuozzo",
}

_SCHEME_RE = re.compile(r"^[a-z][a-z0-9]*(?:\+[a-z0-9]+)?$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$")


@dataclass(frozen=True)
class _Parts:
    """A libvirt URI cut into the pieces vmgui cares about."""

    driver: str
    transport: str
    user: str | None  # None when the URI has no 'user@'
    host: str  # '' for a local URI; IPv6 addresses without brackets
    port: int | None
    path: str


def _host_error(host: str) -> str | None:
    """Why `host` cannot be a host name in a URI, or None when it can."""
    if not host:
        return "Enter the host name to connect to."
    if any(ch.isspace() for ch in host):
        return "The host name must not contain spaces."
    if "@" in host:
        return "Put the user name in the Username field, not in the host name."
    if "/" in host:
        return "The host name must not contain '/'."
    if _is_ipv6(host):
        return None
    if ":" in host:
        return f"'{host}' is not a valid host name: give the port separately."
    if ".." in host or not _HOST_RE.match(host):
        return (
            f"'{host}' is not a valid host name: use letters, digits, '.', '-' "
            "or an IP address."
        )
    return None


def _user_error(user: str) -> str | None:
    """Why `user` cannot be a user name in a URI, or None when it can."""
    if any(ch.isspace() for ch in user):
        return "The user name must not contain spaces."
    if "@" in user:
        return "The user name must not contain '@'."
    if not _USER_RE.match(user):
        return (
            f"'{user}' is not a valid user name: use letters, digits, '.', '_' and '-' only."
        )
    return None


def _is_ipv6(host: str) -> bool:
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.IPv6Address(bare)
    except ValueError:
        return False
    return True


def _host_for_uri(host: str) -> str:
    """`host` as it goes in a URI: IPv6 addresses get their square brackets."""
    if _is_ipv6(host) and not host.startswith("["):
        return f"[{host}]"
    return host


def ssh_uri(host: str, user: str = "", *, session: bool = False, port: int | None = None) -> str:
    """The URI for QEMU/KVM on `host` over SSH, e.g. 'qemu+ssh://root@host:2222/system'.

    Raises ValueError with a message fit for the user when host, user or port is not valid.
    """
    host = host.strip()
    user = user.strip()
    problem = _host_error(host)
    if problem is None and user:
        problem = _user_error(user)
    if problem is None and port is not None and not 1 <= port <= 65535:
        problem = f"The SSH port must be between 1 and 65535, not {port}."
    if problem is not None:
        raise ValueError(problem)
    userinfo = f"{user}@" if user else ""
    portinfo = f":{port}" if port is not None else ""
    path = "session" if session else "system"
    return f"qemu+ssh://{userinfo}{_host_for_uri(host)}{portinfo}/{path}"


def _parse(uri: str) -> _Parts | str:
    """The parts of `uri`, or a message saying why it is not a usable libvirt URI."""
    if not uri or not uri.strip():
        return "Enter a connection URI, for example qemu:///system."
    if any(ch.isspace() for ch in uri):
        return "The URI must not contain spaces."
    if "://" not in uri:
        return f"'{uri}' has no scheme: a URI looks like qemu:///system or qemu+ssh://host/system."
    scheme = uri.split("://", 1)[0]
    if scheme != scheme.lower():
        return f"Write the URI scheme in lower case: {scheme.lower()}://"
    if not scheme:
        return "The URI has no driver before '://', for example qemu:///system."
    if not _SCHEME_RE.match(scheme):
        return f"'{scheme}' is not a valid URI scheme."
    driver, _, transport = scheme.partition("+")
    if driver not in _DRIVERS:
        return f"Unknown hypervisor driver '{driver}' (try qemu, test, xen or lxc)."
    if transport and transport not in _TRANSPORTS:
        known = ", ".join(sorted(_TRANSPORTS))
        return f"Unknown transport '{transport}' (use one of: {known})."
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "The URI is not valid: put IPv6 addresses in square brackets, like [::1]."
    hostport = parts.netloc.rpartition("@")[2]
    if hostport.count(":") > 1 and not hostport.startswith("["):
        return "Put an IPv6 address in square brackets, like qemu+ssh://[::1]/system."
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "The port in the URI must be a number from 1 to 65535."
    if parts.fragment:
        return "The URI must not contain '#'."
    user: str | None = None
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user = unquote(userinfo)
        if not user:
            return "The user name before '@' is empty."
        problem = _user_error(user)
        if problem is not None:
            return problem
    host = hostport[1 : hostport.find("]")] if hostport.startswith("[") else hostport.split(":")[0]
    if host:
        problem = _host_error(host)
        if problem is not None:
            return problem
    elif hostport:
        return "The URI has a port but no host name."
    elif user is not None:
        return "The URI has a user name but no host name."
    return _Parts(driver, transport, user, host, port, parts.path)


def validate_uri(uri: str) -> str | None:
    """A message saying what is wrong with a libvirt connection URI, or None when it looks fine."""
    parsed = _parse(uri)
    if isinstance(parsed, str):
        return parsed
    if parsed.transport in _SSH_TRANSPORTS and not parsed.host:
        return "An SSH connection needs a host name, e.g. qemu+ssh://root@host/system."
    if parsed.driver == "qemu" and parsed.path not in _QEMU_PATHS:
        if parsed.host in ("system", "session") and not parsed.path:
            return f"Use three slashes for a local connection: qemu:///{parsed.host}."
        return "A QEMU URI ends in /system or /session, e.g. qemu:///system."
    if parsed.driver == "test" and parsed.path in ("", "/"):
        if parsed.host == "default":
            return "Use three slashes for the test driver: test:///default."
        return "A test URI needs a path: test:///default or test:///path/to/host.xml."
    return None


def is_local(uri: str) -> bool:
    """True when the URI names no host, so the hypervisor runs on this machine."""
    parsed = _parse(uri)
    if isinstance(parsed, str):
        return "://" not in uri or not uri.split("://", 1)[1].split("/", 1)[0]
    return not parsed.host


def pretty_name(uri: str) -> str:
    """What the connection tree shows for `uri`: 'QEMU/KVM', 'QEMU/KVM: root@host' and so on."""
    parsed = _parse(uri)
    if isinstance(parsed, str):
        return uri
    label = _DRIVER_LABELS.get(parsed.driver)
    if label is None:
        return uri
    if parsed.driver == "qemu":
        if parsed.path == "/session":
            label += " User session"
        elif parsed.path != "/system":
            return uri
    elif parsed.driver == "test":
        path = unquote(parsed.path)
        name = "default" if path == "/default" else posixpath.basename(path.rstrip("/"))
        if not name:
            return uri
        label = f"{label}: {name}"
        if parsed.host:
            label += f" on {_where(parsed)}"
        return label
    if parsed.host:
        label += f": {_where(parsed)}"
    return label


def _where(parsed: _Parts) -> str:
    """'user@host:port' with the parts the URI gives."""
    userinfo = f"{parsed.user}@" if parsed.user else ""
    portinfo = f":{parsed.port}" if parsed.port is not None else ""
    return f"{userinfo}{_host_for_uri(parsed.host)}{portinfo}"

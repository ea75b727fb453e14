"""vmgui: a desktop virtual machine manager and VDI client on libvirt."""

# lxml carries its own libxml2. GObject introspection loads libosinfo's and spice-glib's libraries with
# RTLD_GLOBAL, and with them the system's libxml2: an lxml imported after that binds half of its libxml2
# calls to the system's copy, and the two copies' state then meets inside libvirt's XML parsing (measured:
# a segfault in virConnectOpen from a worker thread). Imported first, lxml keeps to its own copy.
import lxml.etree  # noqa: F401

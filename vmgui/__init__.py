"""vmgui: a desktop virtual machine manager and VDI client on libvirt."""

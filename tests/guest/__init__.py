"""A tiny bootable Linux guest (Debian kernel + busybox initramfs) for tests against a real libvirtd."""

"""Virtual desktops: golden images, desktop pools and assignments, all kept in libvirt's own metadata."""

"""libvirt access, guest state, stats and lifecycle: everything below the UI, with no Qt."""

#!/usr/bin/env bash
# Makes sure a libvirt daemon answers on qemu:///system, starting virtlogd + libvirtd by hand if needed.
set -uo pipefail

answers() { timeout 20 virsh -c qemu:///system version >/dev/null 2>&1; }

if [ "$(id -u)" -eq 0 ]; then
    # Without udev, /dev/kvm stays 0600 root: libvirt then finds KVM gone on every call and re-probes
    # QEMU's capabilities, so each define takes ~48 s (measured). Give it the mode Debian's udev sets.
    if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %a /dev/kvm)" = "600" ]; then
        chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
    fi
fi
answers && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "note: no libvirtd answers on qemu:///system and we are not root; vmgui will use qemu:///session" >&2
    exit 0
fi
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl start libvirtd.service 2>/dev/null || systemctl start virtqemud.socket 2>/dev/null || true
    answers && exit 0
fi
echo "Starting virtlogd and libvirtd (no systemd)"
mkdir -p /run/libvirt
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 1 60); do
    answers && exit 0
    sleep 0.5
done
echo "error: libvirtd did not answer on qemu:///system within 30 s" >&2
exit 1

#!/bin/sh
# Build the desktop test guest (Xorg + spice-vdagent) from Debian packages only, as root on a Debian 12
# host, into the directory given: vmlinuz, initrd.img and disk.img (raw, sparse). Usage: build.sh DIR
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
D=${1:?usage: build.sh DIR}
mkdir -p "$D"; cd "$D"
command -v debootstrap >/dev/null || apt-get install -y debootstrap
rm -rf root
# dbus-user-session must be named: debootstrap cannot resolve dconf-service's virtual dep default-dbus-session-bus
debootstrap --variant=minbase --include=systemd-sysv,udev,dbus,dbus-user-session,xserver-xorg-core,xserver-xorg-video-qxl,xserver-xorg-input-evdev,x11-xserver-utils,xclip,spice-vdagent,linux-image-amd64,kmod,qemu-guest-agent bookworm $D/root http://deb.debian.org/debian
"$HERE/configure.sh" "$D/root"  # root pw, serial autologin, Xorg + session-agent units, vdagentd -X
install -m755 "$HERE/extra/apply-preferred-mode" root/usr/local/bin/
install -m644 "$HERE/extra/99-apply-preferred-mode.rules" root/etc/udev/rules.d/
install -m644 "$HERE/extra/apply-preferred-mode.service" root/etc/systemd/system/
chroot root apt-get clean; rm -rf root/var/lib/apt/lists/*
cp root/boot/vmlinuz-* vmlinuz; cp root/boot/initrd.img-* initrd.img
rm -f disk.img; mkfs.ext4 -q -L root -d root disk.img 3G
rm -rf root

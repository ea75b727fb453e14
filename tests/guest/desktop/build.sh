#!/bin/sh
# Build the vdagent-probe test guest from Debian packages only (run as root on a Debian 12 host).
set -e
D=/tmp/vdagent-guest; cd $D
apt-get install -y debootstrap
rm -rf root
# dbus-user-session must be named: debootstrap cannot resolve dconf-service's virtual dep default-dbus-session-bus
debootstrap --variant=minbase --include=systemd-sysv,udev,dbus,dbus-user-session,xserver-xorg-core,xserver-xorg-video-qxl,xserver-xorg-input-evdev,x11-xserver-utils,xclip,spice-vdagent,linux-image-amd64,kmod,qemu-guest-agent bookworm $D/root http://deb.debian.org/debian
./configure.sh                       # root pw, serial autologin, Xorg + session-agent units, vdagentd -X
install -m755 extra/apply-preferred-mode root/usr/local/bin/
install -m644 extra/99-apply-preferred-mode.rules root/etc/udev/rules.d/
install -m644 extra/apply-preferred-mode.service root/etc/systemd/system/
chroot root apt-get clean; rm -rf root/var/lib/apt/lists/*
cp root/boot/vmlinuz-* vmlinuz; cp root/boot/initrd.img-* initrd.img
rm -f disk.img; mkfs.ext4 -q -L root -d root disk.img 3G
# virsh -c qemu:///system define domain.xml && virsh -c qemu:///system start vdagent-probe
# PATCH_GRAB=1 /work/main/.venv/bin/python probe.py

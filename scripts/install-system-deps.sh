#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages vmgui needs to build, run and test, asking apt only for missing ones.
set -euo pipefail

packages=(
    # libvirt daemon + client library and headers (libvirt-python builds against them)
    libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients libvirt-dev pkg-config
    # the hypervisor and its image tools
    qemu-system-x86 qemu-utils
    # building libvirt-python and creating the virtualenv
    gcc python3-dev python3-venv
    # Qt's runtime libraries (PySide6 wheels) for offscreen and X11, a font, and a virtual X server
    libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 fonts-dejavu-core
    libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
    libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 xvfb xauth
    # the tiny test guest (Debian kernel + busybox initramfs)
    busybox-static cpio
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing system packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

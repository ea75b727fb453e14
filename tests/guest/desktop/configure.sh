#!/bin/sh
# Turn the debootstrapped tree into a bootable SPICE/vdagent test guest.
set -e
R=${1:?usage: configure.sh ROOT}
echo vdagent-probe > $R/etc/hostname
chroot $R sh -c 'echo root:root | chpasswd'
echo '/dev/vda / ext4 defaults 0 1' > $R/etc/fstab
# serial console: autologin root on ttyS0
mkdir -p $R/etc/systemd/system/serial-getty@ttyS0.service.d
cat > $R/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf <<'U'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,38400,9600 %I $TERM
U
# spice-vdagentd without logind session tracking (the session agent runs from a system unit, not a login session)
echo 'SPICE_VDAGENTD_EXTRA_ARGS="-X"' > $R/etc/default/spice-vdagentd
# X server on :0 (root, no display manager)
cat > $R/etc/systemd/system/xorg-probe.service <<'U'
[Unit]
Description=Xorg :0 for SPICE agent tests
After=systemd-udevd.service systemd-user-sessions.service
[Service]
ExecStart=/usr/lib/xorg/Xorg :0 vt7 -nolisten tcp -noreset
Restart=always
[Install]
WantedBy=multi-user.target
U
# session agent on :0
cat > $R/etc/systemd/system/spice-vdagent-x.service <<'U'
[Unit]
Description=spice-vdagent session agent on :0
After=xorg-probe.service spice-vdagentd.service
Requires=xorg-probe.service
[Service]
Environment=DISPLAY=:0
ExecStartPre=/bin/sh -c 'for i in $(seq 120); do xset q >/dev/null 2>&1 && exit 0; sleep 0.5; done; exit 1'
ExecStart=/usr/bin/spice-vdagent -x
Restart=always
RestartSec=1
[Install]
WantedBy=multi-user.target
U
chroot $R systemctl enable xorg-probe.service spice-vdagent-x.service
chroot $R systemctl enable spice-vdagentd.socket spice-vdagentd.service 2>&1 || true
# qemu-guest-agent: its unit is started by udev when the port appears (BindsTo dev-virtio-ports...)
echo 'export DISPLAY=:0' >> $R/root/.profile

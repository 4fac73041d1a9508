#!/bin/bash
# Leaves nothing node-specific in the image: machine-id, SSH host keys,
# cloud-init state, logs and the build user's password are regenerated or
# removed, so every machine booted from it is configured by its payload only.
set -euo pipefail

truncate -s 0 /etc/machine-id
rm -f /var/lib/dbus/machine-id
rm -f /etc/ssh/ssh_host_*
if command -v cloud-init >/dev/null; then cloud-init clean --logs --seed; fi
passwd -d "${SUDO_USER:-debian}" 2>/dev/null || true
rm -rf /tmp/* /var/tmp/* /var/lib/ksgen/*
journalctl --rotate >/dev/null 2>&1 || true
journalctl --vacuum-time=1s >/dev/null 2>&1 || true
sync

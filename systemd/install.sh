#!/usr/bin/env bash
# Install the appliance's systemd units, system user and data-dir layout.
#   systemd/install.sh               on the running box (root): install, enable, start
#   systemd/install.sh --root DIR    into an image tree (no running systemd needed):
#                                    install and enable only, e.g. when building an SD image
# The project itself must already be at /opt/appliance with its virtualenv
# (git clone ... /opt/appliance && /opt/appliance/setup.sh install).
set -euo pipefail

ROOT=""
if [ "${1:-}" = "--root" ]; then
  ROOT=$(realpath "${2:?usage: $0 [--root DIR]}")
  shift 2
fi
[ $# -eq 0 ] || { echo "usage: $0 [--root DIR]" >&2; exit 2; }

SRC=$(cd "$(dirname "$0")" && pwd)
UNITS=(appliance.target appliance.slice appliance-controller.service
       appliance-worker@.service appliance-kamailio-config.service
       appliance-kamailio.service appliance-firmware-bridge.service
       appliance-fleet.service)

install -d "$ROOT/etc/systemd/system" "$ROOT/etc/sysusers.d" "$ROOT/etc/tmpfiles.d"
for u in "${UNITS[@]}"; do
  install -m 0644 "$SRC/$u" "$ROOT/etc/systemd/system/$u"
done
install -m 0644 "$SRC/sysusers.d/appliance.conf" "$ROOT/etc/sysusers.d/appliance.conf"
install -m 0644 "$SRC/tmpfiles.d/appliance.conf" "$ROOT/etc/tmpfiles.d/appliance.conf"

if [ -n "$ROOT" ]; then
  systemd-sysusers --root="$ROOT" "$ROOT/etc/sysusers.d/appliance.conf"
  systemd-tmpfiles --root="$ROOT" --create "$ROOT/etc/tmpfiles.d/appliance.conf"
  systemctl --root="$ROOT" enable appliance.target
  exit 0
fi

systemd-sysusers /etc/sysusers.d/appliance.conf
systemd-tmpfiles --create /etc/tmpfiles.d/appliance.conf
systemctl daemon-reload
# The stock Debian kamailio.service reads /etc/kamailio and would take port 5060.
systemctl disable --now kamailio.service 2>/dev/null || true
systemctl enable --now appliance.target

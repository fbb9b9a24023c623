#!/usr/bin/env bash
# One script for a fresh Debian 12 / Raspberry Pi OS machine:
#   ./setup.sh run   install what is needed, then run the appliance with demo defaults
#   ./setup.sh test  install what is needed, then run the whole test suite
# Needs root (or sudo) for the Debian packages. Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  kamailio kamailio-sqlite-modules kamailio-extra-modules kamailio-json-modules
  kamailio-utils-modules
  sip-tester mosquitto mosquitto-clients espeak-ng sox
  python3-venv python3-dev build-essential
  systemd dnsmasq-base isc-dhcp-server iproute2 openssl
  chromium chromium-driver
  postgresql
)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # The packaged kamailio, mosquitto and dhcpd services must not start and grab ports:
    # the appliance and the tests start their own. policy-rc.d tells the packages so.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
      as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
      made_policy=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    if [ "$made_policy" = 1 ]; then as_root rm -f "$policy"; fi
  fi
  # Debian starts the stock services where an init system runs; the appliance runs its own.
  as_root sh -c 'for s in kamailio mosquitto; do (service "$s" stop || true) >/dev/null 2>&1; done'
}

install_venv() {
  local py=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
  fi
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  # Browser libraries (Chart.js) from the npm registry, pinned and integrity-checked: the box
  # serves every asset itself, no CDN.
  .venv/bin/python -m web.vendor
}

case "${1:-}" in
  run)
    install_debian
    install_venv
    shift
    exec .venv/bin/appliance run "$@"
    ;;
  test)
    install_debian
    install_venv
    shift
    exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
    ;;
  install)
    install_debian
    install_venv
    ;;
  *)
    echo "usage: $0 run|test|install" >&2
    exit 2
    ;;
esac

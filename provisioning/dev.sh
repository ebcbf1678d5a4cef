#!/usr/bin/env bash
# Set up this checkout (Debian packages, a virtualenv, the package) and run one of:
#   demo  the gateway on its embedded simulated site, everything on loopback
#   test  the whole test suite
# Idempotent: each step is skipped when it is already done. Run as root on Debian / Raspberry Pi OS.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO="$(pwd)"
VENV="$REPO/.venv"
PYTHON="${PYTHON:-python3}"
# Debian packages the gateway and its tests need: mosquitto is the real MQTT broker the printer
# tests and the demo start on loopback; python3-venv makes the virtualenv; chromium is the real browser
# the technician page's tests drive (through playwright, which never downloads a browser of its own);
# systemd brings systemd-analyze, which the unit's tests run offline (verify, security).
DEBIAN_PACKAGES=(python3 python3-venv python3-dev mosquitto mosquitto-clients openssl ca-certificates
  chromium fonts-dejavu-core systemd)

log() { printf '[dev.sh] %s\n' "$*" >&2; }

missing_debian_packages() {
  local pkg
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$pkg"
  done
}

install_debian_packages() {
  local missing
  missing="$(missing_debian_packages | tr '\n' ' ')"
  [ -z "${missing// /}" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: $missing(run as root, or install them first)"
    exit 1
  fi
  log "installing Debian packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

setup_venv() {
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    log "$PYTHON is older than 3.11"; exit 1; }
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
  local stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    log "installing the gateway and its test dependencies into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --config-settings editable_mode=compat -e ".[test]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

main() {
  local command="${1:-}"
  case "$command" in
    demo|test) ;;
    *) echo "usage: $0 demo|test [args...]" >&2; exit 2 ;;
  esac
  shift
  install_debian_packages
  setup_venv
  case "$command" in
    demo)
      exec "$VENV/bin/edge-gateway" demo --state-dir "${EDGE_GATEWAY_DEMO_DIR:-$REPO/.demo/state}" \
        --port "${EDGE_GATEWAY_DEMO_PORT:-8080}" "$@" ;;
    test)
      exec "$VENV/bin/python" -m pytest "$@" ;;
  esac
}

main "$@"

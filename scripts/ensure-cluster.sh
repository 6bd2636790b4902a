#!/usr/bin/env bash
# Debian's nginx (the front of `make cluster` and tests/deploy/) and promtool (package
# prometheus: checks deploy/prometheus/tandem-alerts.yml). Both packages would start a system
# service listening on every interface (nginx on :80, Prometheus on :9090); nothing here may
# listen outside loopback, so no service is started at install time (policy-rc.d, the Debian
# way), and under systemd the units are disabled and stopped afterwards.
set -eu
need=""
[ -x /usr/sbin/nginx ] || need="$need nginx"
command -v promtool >/dev/null || need="$need prometheus"
if [ -z "$need" ]; then exit 0; fi
echo "Installing Debian's$need for the cluster tests"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
if [ -d /run/systemd/system ]; then
  for unit in nginx.service prometheus.service; do
    if systemctl list-unit-files "$unit" >/dev/null 2>&1; then $SUDO systemctl disable --now "$unit" || true; fi
  done
fi

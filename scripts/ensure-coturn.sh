#!/usr/bin/env bash
# Debian's coturn for the TURN tests (tests/deploy/test_coturn.py runs its own from
# deploy/coturn/turnserver.conf, inside a network namespace).
set -eu
if [ -x /usr/bin/turnserver ]; then exit 0; fi
echo "Installing Debian's coturn for the TURN tests"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq coturn
# Under systemd the package enables and starts a system coturn from /etc/turnserver.conf on
# every interface; the tests need none, so the one this script installed is stopped and disabled.
if [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now coturn.service
fi

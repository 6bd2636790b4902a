#!/usr/bin/env bash
# Debian's coturn for the TURN tests (tests/deploy/test_coturn.py runs it from deploy/coturn/turnserver.conf).
set -eu
if [ -x /usr/bin/turnserver ]; then exit 0; fi
echo "Installing Debian's coturn for the TURN tests"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq coturn

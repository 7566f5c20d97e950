#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as real peers: a real MQTT broker (mosquitto), serial
# pty pairs (socat), an independent Modbus master (mbpoll) and an independent Modbus server library
# (python3-pymodbus). Safe to run twice.
set -euo pipefail

packages=(mosquitto mosquitto-clients socat mbpoll python3-pymodbus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies already installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian mosquitto package enables a system broker; tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  $SUDO systemctl disable --now mosquitto || true
fi

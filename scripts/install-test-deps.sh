#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as real peers: real MQTT brokers (mosquitto, and
# rabbitmq-server for the clustered-broker tests in test/brokers), serial
# pty pairs (socat), an independent Modbus master (mbpoll) and an independent Modbus server library
# (python3-pymodbus, with python3-serial and python3-serial-asyncio, which its servers import but Debian
# only recommends), systemd-analyze (systemd) to check the unit file, a real browser for the status page
# (chromium, driven by playwright-core), prometheus (promtool to check /metrics and the alert rules, the
# server to run the Grafana dashboard's queries), Jinja2 (python3-jinja2) to render Home Assistant value
# templates as Home Assistant does, and tmux to answer the CLI's questions in a real terminal. Safe to run
# twice.
set -euo pipefail

packages=(mosquitto mosquitto-clients rabbitmq-server socat mbpoll python3-pymodbus python3-serial python3-serial-asyncio systemd chromium prometheus python3-jinja2 tmux)
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
# The Debian mosquitto and prometheus packages enable system services; tests start their own broker
# on free ports and need only promtool from prometheus.
for unit in mosquitto prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
    $SUDO systemctl disable --now "$unit" || true
  fi
done
# rabbitmq-server starts a system node (and epmd on 4369) when installed. The tests start their own
# nodes with a private cookie and a private epmd on a free port, so they neither need nor mind it:
# disable it only when this run installed it, and leave a RabbitMQ that was there before, and epmd
# (other Erlang programs may use it), alone.
if [[ " ${missing[*]} " == *" rabbitmq-server "* ]] && command -v systemctl >/dev/null 2>&1 \
  && systemctl is-active --quiet rabbitmq-server 2>/dev/null; then
  $SUDO systemctl disable --now rabbitmq-server || true
fi

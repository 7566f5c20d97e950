#!/usr/bin/env bash
# Installs Powerdeal on a Raspberry Pi (Raspberry Pi OS / Debian) as a watchdog-supervised systemd
# service, from a checkout or an unpacked release. Running it twice changes nothing.
#
#   sudo scripts/install.sh                  install or update, enable and (re)start the service
#   sudo scripts/install.sh --uninstall      remove the program and the unit; keep config and data
#   sudo scripts/install.sh --uninstall --purge   also remove /etc/powerdeal, /var/lib/powerdeal, the user
#
# Options: --no-start (install and enable, do not start), --skip-npm (do not install dependencies:
# /opt/powerdeal/node_modules is managed by hand), --tls (serve the status page over HTTPS with a
# self-signed certificate for this host's names and addresses, made when absent or about to expire).
# POWERDEAL_ROOT=/some/dir installs into a staging tree instead of / (no user, no systemctl): for
# packaging and for the installer's own test.
set -euo pipefail

ROOT="${POWERDEAL_ROOT:-}"
ROOT="${ROOT%/}"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OPT="$ROOT/opt/powerdeal"
ETC="$ROOT/etc/powerdeal"
STATE="$ROOT/var/lib/powerdeal"
UNIT_DIR="$ROOT/etc/systemd/system"
DROP_IN="$UNIT_DIR/powerdeal.service.d/addresses.conf"
BIN="$ROOT/usr/local/bin/powerdeal"
USER_NAME=powerdeal
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=19

uninstall=0
purge=0
start=1
skip_npm=0
tls=0
for arg in "$@"; do
  case "$arg" in
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    --no-start) start=0 ;;
    --skip-npm) skip_npm=1 ;;
    --tls) tls=1 ;;
    -h | --help)
      sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install.sh: unknown option $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

changed=0
say() { printf '%s\n' "$*"; }
did() {
  changed=1
  say "  * $*"
}
staging() { [ -n "$ROOT" ]; }
systemd_present() { ! staging && [ -d /run/systemd/system ]; }

if ! staging && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run it as root (sudo $0 $*)" >&2
  exit 1
fi

# ---- uninstall ---------------------------------------------------------------------------------
if [ "$uninstall" -eq 1 ]; then
  say "Removing Powerdeal"
  if systemd_present && systemctl list-unit-files powerdeal.service >/dev/null 2>&1; then
    if systemctl is-enabled --quiet powerdeal.service 2>/dev/null || systemctl is-active --quiet powerdeal.service; then
      systemctl disable --now powerdeal.service && did "stopped and disabled powerdeal.service"
    fi
  fi
  if [ -f "$UNIT_DIR/powerdeal.service" ] || [ -f "$DROP_IN" ]; then
    rm -f "$UNIT_DIR/powerdeal.service" "$DROP_IN" && did "removed the unit"
    rmdir "$(dirname "$DROP_IN")" 2>/dev/null || true
    systemd_present && systemctl daemon-reload
  fi
  [ -e "$BIN" ] && rm -f "$BIN" && did "removed $BIN"
  [ -d "$OPT" ] && rm -rf "$OPT" && did "removed $OPT"
  if [ "$purge" -eq 1 ]; then
    [ -d "$ETC" ] && rm -rf "$ETC" && did "removed $ETC (config and the home's key)"
    [ -d "$STATE" ] && rm -rf "$STATE" && did "removed $STATE (database, backups)"
    if ! staging && id "$USER_NAME" >/dev/null 2>&1; then
      userdel "$USER_NAME" && did "removed the user $USER_NAME"
    fi
  else
    say "  kept $ETC and $STATE (config, key, database, backups); --purge removes them"
  fi
  [ "$changed" -eq 0 ] && say "  nothing to remove"
  exit 0
fi

# ---- checks ------------------------------------------------------------------------------------
say "Installing Powerdeal from $SRC"
if ! command -v node >/dev/null 2>&1; then
  cat >&2 <<'EOF'
install.sh: Node.js is not installed. Install Node 22 LTS (or 20.19+), e.g.:
  curl -fsSL https://deb.nodesource.com/setup_22.x | sudo bash - && sudo apt-get install -y nodejs
EOF
  exit 1
fi
NODE_BIN="$(command -v node)"
node_version="$(node -p 'process.versions.node')"
IFS=. read -r major minor _ <<<"$node_version"
if [ "$major" -lt "$NODE_MIN_MAJOR" ] || { [ "$major" -eq "$NODE_MIN_MAJOR" ] && [ "$minor" -lt "$NODE_MIN_MINOR" ]; }; then
  echo "install.sh: Node $node_version is too old; Powerdeal needs $NODE_MIN_MAJOR.$NODE_MIN_MINOR or newer (22 LTS recommended)" >&2
  exit 1
fi
[ "$major" -eq 20 ] && say "  note: Node 20 is past its end of life; Node 22 LTS is recommended"
if [ ! -f "$SRC/dist/cli/main.js" ]; then
  echo "install.sh: $SRC/dist is missing: build first (npm ci && npm run build) or use a release archive" >&2
  exit 1
fi

# ---- user and groups ---------------------------------------------------------------------------
if ! staging; then
  for g in gpio i2c dialout; do
    if ! getent group "$g" >/dev/null; then
      groupadd --system "$g" && did "created group $g (no such hardware group on this system yet)"
    fi
  done
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/powerdeal --no-create-home --shell /usr/sbin/nologin \
      --groups gpio,i2c,dialout "$USER_NAME"
    did "created system user $USER_NAME (groups gpio, i2c, dialout)"
  else
    for g in gpio i2c dialout; do
      if ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$g"; then
        usermod -aG "$g" "$USER_NAME" && did "added $USER_NAME to group $g"
      fi
    done
  fi
fi

# ---- program -----------------------------------------------------------------------------------
# Copies a file only when its content differs (so a second run touches nothing).
install_file() {
  local mode="$1" src="$2" dest="$3"
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  install -m "$mode" "$src" "$dest"
  did "installed $dest"
}

# Mirrors a directory: new and changed files copied, files gone from the source removed.
sync_dir() {
  local src="$1" dest="$2"
  mkdir -p "$dest"
  local f
  while IFS= read -r -d '' f; do
    install_file 0644 "$src/$f" "$dest/$f"
  done < <(cd "$src" && find . -type f ! -name '*.map' -printf '%P\0')
  while IFS= read -r -d '' f; do
    if [ ! -f "$src/$f" ] || [[ "$f" == *.map ]]; then
      rm -f "$dest/$f" && did "removed $dest/$f"
    fi
  done < <(cd "$dest" && find . -type f -printf '%P\0')
}

sync_dir "$SRC/dist" "$OPT/dist"
# The status page's files: the compiled web module finds them in the source tree's place (tsc copies only code).
sync_dir "$SRC/src/web/assets" "$OPT/src/web/assets"
sync_dir "$SRC/hardware" "$OPT/hardware"
sync_dir "$SRC/systemd" "$OPT/systemd"
[ -d "$SRC/docs" ] && sync_dir "$SRC/docs" "$OPT/docs"
for f in package.json package-lock.json README.md LICENSE; do
  [ -f "$SRC/$f" ] && install_file 0644 "$SRC/$f" "$OPT/$f"
done

if [ "$skip_npm" -eq 0 ]; then
  # Production dependencies, rebuilt only when the lock file changed (native modules take minutes on a Pi).
  stamp="$OPT/.deps-installed"
  want="$(sha256sum "$OPT/package-lock.json" | cut -d' ' -f1) node-$major"
  if [ ! -d "$OPT/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "  installing dependencies (native modules build here: a few minutes on a Pi)"
    (cd "$OPT" && npm ci --omit=dev --no-audit --no-fund)
    printf '%s\n' "$want" >"$stamp"
    did "installed dependencies in $OPT/node_modules"
  fi
fi

wrapper="$(mktemp)"
cat >"$wrapper" <<EOF
#!/bin/sh
# The Powerdeal CLI (installed by scripts/install.sh).
exec $NODE_BIN /opt/powerdeal/dist/cli/main.js "\$@"
EOF
install_file 0755 "$wrapper" "$BIN"
rm -f "$wrapper"

# ---- config and the home's key -----------------------------------------------------------------
mkdir -p "$ETC" "$STATE"
if [ ! -f "$ETC/config.yaml" ]; then
  home_id="home-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  cat >"$ETC/config.yaml" <<EOF
# Powerdeal configuration (written once by install.sh; it is never overwritten). Check it with
#   powerdeal config check
# then restart: sudo systemctl restart powerdeal
home: { id: $home_id, zone: my-zone }
cycleMs: 1000
devices: []
  # - id: inverter
  #   profile: sunspec-inverter
  #   modbus: { tcp: "192.168.1.50:502", unitId: 1, timeoutMs: 1000 }
  # - id: grid-meter
  #   profile: sdm630
  #   modbus: { rtu: /dev/ttyUSB0, baudRate: 9600, parity: none, unitId: 2, timeoutMs: 500 }
# mqtt:
#   brokers: ["mqtts://broker.example:8883"]
#   username: $home_id
#   passwordFile: /etc/powerdeal/mqtt.pass
store: { path: /var/lib/powerdeal/powerdeal.db }
web: { listen: "127.0.0.1:8080" }
EOF
  did "wrote a starter config $ETC/config.yaml (home id $home_id): edit it"
fi
if [ ! -f "$ETC/home.key" ]; then
  (umask 027 && node -e '
    const { generateKeyPairSync } = require("node:crypto");
    const { writeFileSync } = require("node:fs");
    const { privateKey } = generateKeyPairSync("ed25519");
    writeFileSync(process.argv[1], privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o640 });
  ' "$ETC/home.key")
  did "generated the home's Ed25519 key $ETC/home.key; once home.id is set, \`powerdeal keys show\` prints its line for the zone keyring"
fi
if [ ! -f "$ETC/web.token" ]; then
  # The bearer token for the status page's state-changing calls (relay override, dead-letter retry).
  # Created once and never rotated by an upgrade; rotate by replacing the file (read on every request).
  (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("hex") + "\n")' >"$ETC/web.token")
  did "generated the status page token $ETC/web.token"
fi
if [ "$tls" -eq 1 ]; then
  # Renewed 30 days before it expires; 825 days is the longest validity Apple's systems accept.
  if ! openssl x509 -checkend 2592000 -noout -in "$ETC/web.crt" >/dev/null 2>&1 || [ ! -f "$ETC/web.key" ]; then
    host="$(hostname)"
    san="DNS:$host,DNS:${host%%.*}.local,DNS:localhost,IP:127.0.0.1,IP:::1"
    for a in $(hostname -I 2>/dev/null); do san="$san,IP:$a"; done
    (umask 027 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
      -subj "/CN=$host" -addext "subjectAltName=$san" -addext "extendedKeyUsage=serverAuth" \
      -keyout "$ETC/web.key" -out "$ETC/web.crt" 2>/dev/null)
    chmod 0644 "$ETC/web.crt" && chmod 0640 "$ETC/web.key"
    did "made the status page's self-signed certificate $ETC/web.crt ($san)"
  fi
  # web.tls in the config, its comments and layout kept (the yaml package of the program).
  tls_set="$(node -e '
    const [file, etc, ...dirs] = process.argv.slice(1);
    const { createRequire } = require("node:module");
    const fs = require("node:fs");
    const dir = dirs.find((d) => fs.existsSync(`${d}/node_modules/yaml`));
    const { parseDocument } = createRequire(`${dir}/`)("yaml");
    const doc = parseDocument(fs.readFileSync(file, "utf8"));
    if (doc.getIn(["web", "tls"]) !== undefined) process.exit(0);
    doc.setIn(["web", "tls"], doc.createNode({ certFile: `${etc}/web.crt`, keyFile: `${etc}/web.key` }, { flow: true }));
    doc.get("web", true).flow = false;
    fs.writeFileSync(file, doc.toString());
    process.stdout.write("set");
  ' "$ETC/config.yaml" "${ETC#"$ROOT"}" "$OPT" "$SRC")"
  [ "$tls_set" = set ] && did "set web.tls in $ETC/config.yaml: the page is served over HTTPS"
fi
if ! staging; then
  # Readable by the service, not by other users; the state directory is the service's own.
  for f in "$ETC" "$ETC/config.yaml" "$ETC/home.key" "$ETC/web.token"; do
    if [ "$(stat -c %U:%G "$f")" != "root:$USER_NAME" ]; then
      chown "root:$USER_NAME" "$f" && did "owner of $f set to root:$USER_NAME"
    fi
  done
  [ "$(stat -c %a "$ETC")" = 750 ] || { chmod 0750 "$ETC" && did "mode of $ETC set to 0750"; }
  [ "$(stat -c %a "$ETC/home.key")" = 640 ] || { chmod 0640 "$ETC/home.key" && did "mode of home.key set to 0640"; }
  [ "$(stat -c %a "$ETC/web.token")" = 640 ] || { chmod 0640 "$ETC/web.token" && did "mode of web.token set to 0640"; }
  if [ "$tls" -eq 1 ]; then
    # The service's own pair; its group (the CLI's users) may read it, to check the config.
    for f in "$ETC/web.crt" "$ETC/web.key"; do
      if [ "$(stat -c %U:%G "$f")" != "$USER_NAME:$USER_NAME" ]; then
        chown "$USER_NAME:$USER_NAME" "$f" && did "owner of $f set to $USER_NAME"
      fi
    done
  fi
  if [ "$(stat -c %U "$STATE")" != "$USER_NAME" ]; then
    chown -R "$USER_NAME:$USER_NAME" "$STATE" && did "owner of $STATE set to $USER_NAME"
  fi
fi

# ---- the unit ----------------------------------------------------------------------------------
unit_src="$(mktemp)"
sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE_BIN #" "$SRC/systemd/powerdeal.service" >"$unit_src"
unit_before="$(cat "$UNIT_DIR/powerdeal.service" "$DROP_IN" 2>/dev/null || true)"
install_file 0644 "$unit_src" "$UNIT_DIR/powerdeal.service"
# The unit exchanges packets only with loopback and link-local; the drop-in adds the brokers, Modbus TCP
# devices, resolvers and LAN the config names (names resolved now). Problems are listed, not fatal.
if "$NODE_BIN" "$OPT/dist/cli/main.js" config addresses --systemd "$ETC/config.yaml" >"$unit_src" || [ -s "$unit_src" ]; then
  install_file 0644 "$unit_src" "$DROP_IN"
else
  say "  warning: could not read the addresses of $ETC/config.yaml (above); $DROP_IN is unchanged."
  say "  Fix the config, check it with 'powerdeal config check', and run the installer again."
fi
rm -f "$unit_src"
unit_changed=0
[ "$unit_before" != "$(cat "$UNIT_DIR/powerdeal.service" "$DROP_IN" 2>/dev/null)" ] && unit_changed=1

if systemd_present; then
  [ "$unit_changed" -eq 1 ] && systemctl daemon-reload
  if ! systemctl is-enabled --quiet powerdeal.service; then
    systemctl enable powerdeal.service && did "enabled powerdeal.service (starts at boot)"
  fi
  if [ "$start" -eq 1 ]; then
    if ! systemctl is-active --quiet powerdeal.service; then
      systemctl start powerdeal.service && did "started powerdeal.service"
    elif [ "$changed" -eq 1 ]; then
      systemctl restart powerdeal.service && did "restarted powerdeal.service with the new version"
    fi
  fi
fi

# ---- hardware interfaces -----------------------------------------------------------------------
if ! staging; then
  if [ ! -e /dev/i2c-1 ]; then
    say "  I2C is off: enable it with 'sudo raspi-config nonint do_i2c 0' (or raspi-config > Interface"
    say "  Options > I2C), then reboot. Needed for the INA219/TMP102 sensors."
  fi
  if [ ! -e /dev/serial0 ] && ! ls /dev/ttyUSB* >/dev/null 2>&1; then
    say "  No serial port: for the Pi's UART run 'sudo raspi-config nonint do_serial_hw 0' and"
    say "  'sudo raspi-config nonint do_serial_cons 1' (UART on, login console off), then reboot;"
    say "  a USB RS485 adapter shows up as /dev/ttyUSB0 without any setting."
  fi
fi

if [ "$changed" -eq 0 ]; then
  say "Nothing to do: Powerdeal is installed and up to date."
else
  say "Done. Status: systemctl status powerdeal; logs: journalctl -u powerdeal -f; CLI: powerdeal status"
fi

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect, type IClientOptions } from 'mqtt';
import type { Config, DeviceConfig } from '../config/schema.js';
import type { DeviceHealth } from '../devices/device.js';

/** One line of the checklist. `unknown`: it could not be checked here (the hint says how to check). */
export interface Check {
  name: string;
  state: 'pass' | 'fail' | 'unknown';
  detail: string;
  hint?: string;
  latencyMs?: number;
}

/** Below either, the store's filesystem counts as full (the outbox must be able to grow in an outage). */
const DISK_MIN_FREE_BYTES = 100 * 1024 * 1024;
const DISK_MIN_FREE_RATIO = 0.05;

const pass = (name: string, detail: string, extra: Partial<Check> = {}): Check => ({
  name,
  state: 'pass',
  detail,
  ...extra,
});
const fail = (name: string, detail: string, hint: string): Check => ({ name, state: 'fail', detail, hint });

/** The `powerdeal modbus scan`/`i2c scan` flags that reach a configured device, for hints. */
function probeCommand(cfg: DeviceConfig | undefined): string | null {
  const m = cfg?.modbus;
  if (m) {
    const where = m.tcp
      ? `--tcp ${m.tcp}`
      : m.rtuOverTcp
        ? `--rtu-over-tcp ${m.rtuOverTcp}`
        : `--rtu ${m.rtu} --baud ${m.baudRate} --parity ${m.parity}`;
    return `powerdeal modbus scan ${where} --from 1 --to 10`;
  }
  if (cfg?.i2c) return `powerdeal i2c scan --bus ${cfg.i2c.bus}`;
  if (cfg?.gpio) return `powerdeal gpio get ${cfg.gpio.line}`;
  return null;
}

/** What a device's last error most likely means, and what to do about it. */
function deviceHint(cfg: DeviceConfig | undefined, error: string): string {
  const probe = probeCommand(cfg);
  const then = probe ? `; then: ${probe}` : '';
  const m = cfg?.modbus;
  const where = m?.tcp ?? m?.rtuOverTcp ?? m?.rtu ?? '';
  if (/ECONNREFUSED|refused/i.test(error)) {
    return `nothing accepts connections at ${where}: is the device (or its RS485 gateway) powered and on the network, and is the port right in the config${then}`;
  }
  if (/EHOSTUNREACH|ENETUNREACH|EHOSTDOWN/i.test(error)) {
    return `${where} cannot be reached: check the network cable/Wi-Fi and the IP address in the config${then}`;
  }
  if (/ENOENT|no such file|cannot open/i.test(error) && m?.rtu) {
    return `the serial port ${m.rtu} is missing: is the USB-RS485 adapter plugged in (ls /dev/ttyUSB* /dev/serial/by-id)?`;
  }
  if (/time(d)? ?out|no answer|did not respond/i.test(error)) {
    return m
      ? `unit ${m.unitId} does not answer: check the RS485 wiring (A/B swapped?), termination, baud rate/parity and the unit id${then}`
      : `no answer: check the wiring and the address${then}`;
  }
  if (/exception/i.test(error)) {
    return `the device answers but refuses the registers: wrong profile or unit id?${then}`;
  }
  if (cfg?.i2c)
    return `check the sensor's wiring, power and address 0x${cfg.i2c.address.toString(16)}${then}`;
  return `see powerdeal devices and powerdeal logs --module devices${then}`;
}

export function deviceChecks(config: Config, devices: DeviceHealth[]): Check[] {
  return devices.map((d) => {
    const cfg = config.devices.find((c) => c.id === d.id);
    const name = `device ${d.id}`;
    if (d.state === 'ok') {
      const latency = d.latencyMs === null ? '' : `, ${d.latencyMs.toFixed(0)} ms`;
      return pass(name, `${d.transport}${latency}`, d.latencyMs === null ? {} : { latencyMs: d.latencyMs });
    }
    const error = d.lastError ?? (d.state === 'starting' ? 'no read completed yet' : 'no answer');
    return fail(name, `${d.transport}: ${error}`, deviceHint(cfg, error));
  });
}

/** A real MQTT connect to each configured broker, with the configured credentials, then a clean end. */
export async function brokerChecks(config: Config, timeoutMs: number): Promise<Check[]> {
  const mqtt = config.mqtt;
  if (!mqtt)
    return [
      {
        name: 'broker',
        state: 'unknown',
        detail: 'no broker configured (mqtt)',
        hint: 'add mqtt.brokers to trade with neighbours',
      },
    ];
  let password: string | undefined;
  if (mqtt.passwordFile !== undefined) {
    try {
      password = readFileSync(mqtt.passwordFile, 'utf8').trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return [
        fail(
          'broker',
          `cannot read mqtt.passwordFile ${mqtt.passwordFile} (${code})`,
          code === 'EACCES'
            ? 'run selftest as root or as the powerdeal user'
            : 'create the file with the broker password, readable by the powerdeal user',
        ),
      ];
    }
  }
  return Promise.all(
    mqtt.brokers.map((url) =>
      brokerCheck(
        url,
        { username: mqtt.username, password, caFile: mqtt.caFile, home: config.home.id },
        timeoutMs,
      ),
    ),
  );
}

async function brokerCheck(
  url: string,
  auth: { username?: string; password?: string; caFile?: string; home: string },
  timeoutMs: number,
): Promise<Check> {
  const name = `broker ${url}`;
  const opts: IClientOptions = {
    clientId: `${auth.home}-selftest-${process.pid}`,
    protocolVersion: 4,
    clean: true,
    connectTimeout: timeoutMs,
    reconnectPeriod: 0,
  };
  if (auth.username !== undefined) opts.username = auth.username;
  if (auth.password !== undefined) opts.password = auth.password;
  if (auth.caFile !== undefined && existsSync(auth.caFile)) opts.ca = readFileSync(auth.caFile);
  const started = performance.now();
  const error = await new Promise<string | null>((resolve) => {
    const client = connect(url, opts);
    const done = (err: string | null) => {
      clearTimeout(timer);
      client.removeAllListeners();
      client.on('error', () => {});
      client.end(true);
      resolve(err);
    };
    const timer = setTimeout(() => done(`no CONNACK within ${timeoutMs} ms`), timeoutMs);
    client.once('connect', () => done(null));
    client.once('error', (err) => done(err.message));
    client.once('close', () => done('connection closed before CONNACK'));
  });
  const latencyMs = performance.now() - started;
  if (error === null) return pass(name, `connected in ${latencyMs.toFixed(0)} ms`, { latencyMs });
  const host = url.replace(/^\w+:\/\//, '');
  let hint = `check the network between this home and ${host}`;
  if (/ECONNREFUSED|closed before/i.test(error)) {
    hint = `nothing accepts MQTT at ${host}: is the broker running (on its host: systemctl status mosquitto)? Until it is, messages wait in the outbox (powerdeal outbox stats)`;
  } else if (/not authori[sz]ed|bad user ?name or password|Connection refused: (4|5)/i.test(error)) {
    hint = 'the broker refuses the credentials: check mqtt.username and the password in mqtt.passwordFile';
  } else if (/ENOTFOUND|EAI_AGAIN/i.test(error)) {
    hint = `the name in ${url} does not resolve: check DNS or use the broker's IP address`;
  } else if (/certificate|self.signed|TLS/i.test(error)) {
    hint = 'TLS failed: check mqtt.caFile and the broker certificate';
  }
  return fail(name, error, hint);
}

function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 5000 }, (err, stdout) =>
      resolve({ ok: err === null, out: stdout.trim() }),
    );
  });
}

export async function clockCheck(): Promise<Check> {
  const r = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']);
  const now = new Date().toISOString();
  if (r.ok && r.out === 'yes') return pass('clock', `NTP synchronised (${now})`);
  if (r.ok && r.out === 'no') {
    return fail(
      'clock',
      `not synchronised (${now})`,
      'offers and messages expire by the clock: sudo timedatectl set-ntp true, and let the Pi reach an NTP server (UDP 123)',
    );
  }
  return {
    name: 'clock',
    state: 'unknown',
    detail: `timedatectl cannot tell here; this machine says ${now}`,
    hint: 'compare with a phone (date -u); a Pi without an RTC needs NTP (systemd-timesyncd or chrony) after every boot',
  };
}

/** The nearest existing directory at or above `path`'s directory. */
function existingDir(path: string): string {
  let dir = dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export function diskCheck(storePath: string): Check {
  const dir = existingDir(storePath);
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  const total = fs.blocks * fs.bsize;
  const ratio = total > 0 ? free / total : 0;
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;
  const detail = `${mib(free)} free of ${mib(total)} (${(ratio * 100).toFixed(0)}%) at ${dir}`;
  if (free >= DISK_MIN_FREE_BYTES && ratio >= DISK_MIN_FREE_RATIO) return pass('disk', detail);
  return fail(
    'disk',
    detail,
    `the outbox needs room during an outage: remove old backups (${dirname(storePath)}/backups), shrink the journal (sudo journalctl --vacuum-size=50M), or use a larger SD card`,
  );
}

const UNIT_FILES = [
  '/etc/systemd/system/powerdeal.service',
  '/lib/systemd/system/powerdeal.service',
  '/usr/lib/systemd/system/powerdeal.service',
];

/**
 * From the running service's own environment when it answers (what systemd really gave it), else from
 * the installed unit file.
 */
export function watchdogCheck(service: { watchdogUsec: string | null } | null): Check {
  const hint =
    'add WatchdogSec=30 (with Type=notify) to the [Service] section of the unit, then: sudo systemctl daemon-reload && sudo systemctl restart powerdeal';
  if (service) {
    if (service.watchdogUsec !== null) {
      return pass(
        'watchdog',
        `the service has WATCHDOG_USEC=${service.watchdogUsec} (${Number(service.watchdogUsec) / 1e6} s)`,
      );
    }
    return fail('watchdog', 'the running service was started without a watchdog (no WATCHDOG_USEC)', hint);
  }
  const unit = UNIT_FILES.find((f) => existsSync(f));
  if (!unit) {
    return fail(
      'watchdog',
      'no powerdeal unit installed',
      'install the service (scripts/install.sh), which installs systemd/powerdeal.service',
    );
  }
  const text = readFileSync(unit, 'utf8');
  const sec = /^\s*WatchdogSec\s*=\s*(\S+)/m.exec(text)?.[1];
  if (sec !== undefined && sec !== '0') return pass('watchdog', `${unit}: WatchdogSec=${sec}`);
  return fail('watchdog', `${unit} sets no WatchdogSec`, hint);
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import pino from 'pino';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { VERSION } from '../../core/version.js';
import { loadProfiles } from '../../devices/profiles.js';
import { createLogger } from '../../log/logger.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../service/embedded-broker.js';
import { Service } from '../../service/service.js';
import { type Simulator, startSimulator } from '../../sim/index.js';
import { splitHostPort } from '../../web/server.js';
import { bold, dim } from '../output.js';
import { type DemoEvent, formatEvent, WireFeed } from './demo-feed.js';
import {
  DEMO_ZONE,
  type DemoHome,
  demoConfig,
  demoHomes,
  demoWebPorts,
  MAX_DEMO_HOMES,
  writeDemoKeys,
} from './demo-homes.js';

interface DemoFlags {
  homes: string;
  broker?: string;
  timeScale: string;
  web: string;
  duration?: string;
  startHour: string;
  json?: boolean;
}

interface DemoSettings {
  homes: DemoHome[];
  broker: string | undefined;
  timeScale: number;
  webHost: string;
  webPort: number;
  durationS: number | undefined;
  startHour: number;
  json: boolean;
}

/** A running home: its simulated hardware and its service. */
interface RunningHome {
  home: DemoHome;
  sim: Simulator;
  service?: Service;
  /** Relay levels last reported. */
  relays: Map<string, boolean>;
}

const RELAY_POLL_MS = 250;
const READINGS_EVERY_MS = 30_000;
const STOP_DEADLINE_MS = 5000;
const BROKER_WAIT_MS = 10_000;

/**
 * `powerdeal demo`: a small neighbourhood in one process. Each home is a Modbus simulator (real Modbus
 * TCP) and a full service with its own database, Ed25519 key and status page; one keyring, an embedded
 * broker unless --broker is given, one-minute slots on the real clock so trades happen within a minute.
 * The feed shows what the homes tell each other. Nothing is written outside one temp directory, which
 * is removed at the end.
 */
export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'run a neighbourhood of simulated homes that trade solar energy, with an embedded MQTT broker',
    )
    .option(
      '--homes <n>',
      `how many homes, 1..${MAX_DEMO_HOMES} (the 1st, 4th, 7th sell; the others buy)`,
      '3',
    )
    .option('--broker <url>', 'use this MQTT broker instead of the embedded one')
    .option('--time-scale <n>', 'simulated seconds per real second for the sun and the loads', '10')
    .option(
      '--web <host:port>',
      'where the first status page listens; the next homes take the next free ports',
      '127.0.0.1:8080',
    )
    .option('--start-hour <h>', 'local hour the simulated day starts at (sunshine by default)', '11')
    .option('--duration <s>', 'stop after this many seconds (default: until Ctrl-C)')
    .option('--json', 'one JSON line per event instead of text')
    .action(async (flags: DemoFlags) => runDemo(settingsFrom(flags)));
}

function settingsFrom(flags: DemoFlags): DemoSettings {
  const usage = (message: string): never => {
    throw new CliError(message, EXIT.usage);
  };
  const count = Number(flags.homes);
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEMO_HOMES)
    usage(`--homes must be a whole number from 1 to ${MAX_DEMO_HOMES}`);
  const timeScale = Number(flags.timeScale);
  if (!(timeScale > 0 && timeScale <= 100_000)) usage('--time-scale must be a positive number');
  const startHour = Number(flags.startHour);
  if (!(startHour >= 0 && startHour < 24)) usage('--start-hour must be 0..23');
  const durationS = flags.duration === undefined ? undefined : Number(flags.duration);
  if (durationS !== undefined && !(durationS > 0)) usage('--duration must be a positive number of seconds');
  const [webHost, webPort] = splitHostPort(flags.web);
  if (webHost === '' || !Number.isInteger(webPort) || webPort < 0 || webPort > 65535)
    usage('--web must be HOST:PORT, e.g. 127.0.0.1:8080');
  return {
    homes: demoHomes(count),
    broker: flags.broker,
    timeScale,
    webHost,
    webPort,
    durationS,
    startHour,
    json: flags.json === true,
  };
}

async function runDemo(s: DemoSettings): Promise<void> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  // Logs go to stderr so that stdout is the feed (and pure JSON lines with --json).
  const log = createLogger({
    level: process.env.POWERDEAL_LOG_LEVEL ?? 'warn',
    destination: pino.destination({ fd: 2, sync: true }),
  });
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-demo-'));
  const running: RunningHome[] = [];
  const timers: NodeJS.Timeout[] = [];
  let broker: EmbeddedBroker | undefined;
  let feed: WireFeed | undefined;
  let ready = false;
  const held: DemoEvent[] = [];
  const show = (e: DemoEvent) => say(s.json ? JSON.stringify(e) : formatEvent(e));
  const emit = (e: DemoEvent) => (ready ? show(e) : held.push(e));

  // Listening from the start: a Ctrl-C while the homes start still ends in a clean stop.
  let requestStop: (reason: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    // A second Ctrl-C does not wait for the clean stop.
    process.once(signal, () => process.exit(130));
    requestStop(signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      for (const t of timers) clearInterval(t);
      await feed
        ?.stop()
        .catch((err) => log.warn({ err }, 'demo feed did not stop cleanly; stopping the rest'));
      await Promise.all(
        running.map((h) =>
          h.service
            ?.stop(STOP_DEADLINE_MS)
            .catch((err) => log.error({ err, home: h.home.id }, 'home did not stop cleanly')),
        ),
      );
      await broker?.close().catch((err) => log.warn({ err }, 'demo broker did not close cleanly'));
      await Promise.all(
        running.map((h) =>
          h.sim.stop().catch((err) => log.warn({ err, home: h.home.id }, 'simulator did not stop cleanly')),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    })();
    return stopped;
  };

  try {
    // The simulated day starts at --start-hour today, so a demo run at night still shows sunshine.
    const dayStart = new Date();
    dayStart.setHours(Math.floor(s.startHour), (s.startHour % 1) * 60, 0, 0);
    const shift = dayStart.getTime() - Date.now();
    for (const home of s.homes) {
      const sim = await startSimulator({
        tcp: { host: '127.0.0.1', port: 0 },
        timeScale: s.timeScale,
        seed: home.seed,
        pvKwp: home.pvKwp,
        clock: () => Date.now() + shift,
      });
      running.push({ home, sim, relays: new Map() });
    }
    broker = s.broker ? undefined : await startEmbeddedBroker();
    const brokerUrl = s.broker ?? (broker as EmbeddedBroker).url;
    const { keyringFile, keyring } = writeDemoKeys(dir, s.homes);
    feed = new WireFeed({ broker: brokerUrl, zone: DEMO_ZONE, keyring, now: Date.now, emit });
    await feed.start(BROKER_WAIT_MS).catch((err: Error) => {
      throw new CliError(`cannot reach the broker ${brokerUrl}: ${err.message}`);
    });
    const ports =
      s.webPort === 0
        ? s.homes.map(() => 0)
        : await demoWebPorts(s.webHost, s.webPort, s.homes.length).catch((err: Error) => {
            throw new CliError(err.message);
          });
    const profiles = loadProfiles();
    for (const [i, h] of running.entries()) {
      const config = demoConfig({
        home: h.home,
        modbusTcp: `127.0.0.1:${h.sim.tcpPort}`,
        broker: brokerUrl,
        dir,
        keyringFile,
        web: `${s.webHost}:${ports[i]}`,
      });
      h.service = new Service({
        config,
        profiles,
        log: log.child({ home: h.home.id }),
        now: Date.now,
        simulated: true,
        version: VERSION,
      });
      await h.service.start();
    }

    announce(s, running, brokerUrl, broker !== undefined, say);
    ready = true;
    for (const e of held.splice(0)) show(e);
    timers.push(setInterval(() => watchRelays(running, emit), RELAY_POLL_MS));
    if (!s.json) timers.push(setInterval(() => say(readingsLine(running)), READINGS_EVERY_MS));
  } catch (err) {
    await stop();
    throw err;
  }

  if (s.durationS !== undefined) timers.push(setTimeout(() => requestStop('duration'), s.durationS * 1000));
  const reason = await stopRequested;
  await stop();
  const totals = feed.decoder.totals;
  if (s.json) say(JSON.stringify({ event: 'stopped', ts: Date.now(), reason, totals }));
  else {
    const rejects = Object.entries(totals.rejects)
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    say(
      bold(
        `Stopped (${reason}): ${totals.offers} offers, ${totals.trades} trades (${totals.energyWh} Wh), ` +
          `rejects: ${rejects || 'none'}, ${totals.settlements} settlements`,
      ),
    );
  }
  // Everything is closed; a handle some library left behind must not keep the demo from exiting.
  setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
}

function announce(
  s: DemoSettings,
  running: readonly RunningHome[],
  brokerUrl: string,
  embedded: boolean,
  say: (line: string) => void,
): void {
  const web = (h: RunningHome) => `http://${s.webHost}:${h.service?.webPort ?? '?'}/`;
  if (s.json) {
    say(
      JSON.stringify({
        event: 'started',
        ts: Date.now(),
        zone: DEMO_ZONE,
        broker: brokerUrl,
        embeddedBroker: embedded,
        slotMinutes: 1,
        timeScale: s.timeScale,
        homes: running.map((h) => ({
          id: h.home.id,
          role: h.home.role,
          pvKwp: h.home.pvKwp,
          heaterW: h.home.heaterW,
          modbus: `127.0.0.1:${h.sim.tcpPort}`,
          web: web(h),
        })),
      }),
    );
    return;
  }
  say(bold(`Powerdeal demo: ${running.length} homes trading in one-minute slots`));
  for (const h of running) {
    const what =
      h.home.heaterW === null
        ? `${h.home.pvKwp} kWp PV`
        : `${h.home.pvKwp} kWp PV, ${h.home.heaterW} W water heater`;
    say(`  ${h.home.id.padEnd(9)} ${h.home.role.padEnd(6)}  ${what.padEnd(32)} ${web(h)}`);
  }
  say(`  broker    ${brokerUrl}${embedded ? ' (embedded)' : ''}`);
  say(
    `  sun       simulated day from ${String(s.startHour).padStart(2, '0')}:00 at ${s.timeScale}x; trading on the real clock`,
  );
  say(dim('  every message is signed and checked; Ctrl-C to stop'));
}

/**
 * Reports relay switches, and puts the loads that are on onto the home's simulated meter: the house
 * load of the simulated day plus the heater, so the meter (and the settlement) sees the energy bought.
 */
function watchRelays(running: readonly RunningHome[], emit: (e: DemoEvent) => void): void {
  for (const h of running) {
    if (!h.service || h.home.heaterW === null) continue;
    let switchedOnW = 0;
    for (const r of h.service.relays.list()) {
      if (r.on === true) switchedOnW += r.loadW ?? 0;
      if (r.on === null || (h.relays.get(r.id) ?? false) === r.on) continue;
      h.relays.set(r.id, r.on);
      emit({ event: 'relay', ts: Date.now(), home: h.home.id, relay: r.id, on: r.on });
    }
    // Only these loads pin the simulator, so unpinning gives the day's own house load back.
    h.sim.unpin();
    if (switchedOnW > 0) h.sim.pin({ loadPowerW: h.sim.truth().loadPowerW + switchedOnW });
  }
}

function readingsLine(running: readonly RunningHome[]): string {
  const w = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${Math.round(v)} W`);
  const parts = running.map((h) => {
    const q = h.service?.cycle.latest()?.quantities;
    return `${h.home.id} pv ${w(q?.pvPowerW?.value)} grid ${w(q?.gridPowerW?.value)}`;
  });
  return dim(
    `${new Date().toLocaleTimeString('en-GB', { hour12: false })}  ${'readings'.padEnd(11)} ${parts.join(' · ')}`,
  );
}

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type Config, configSchema } from '../../config/schema.js';
import { VERSION } from '../../core/version.js';
import { loadProfiles } from '../../devices/profiles.js';
import { createLogger } from '../../log/logger.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../service/embedded-broker.js';
import { Service } from '../../service/service.js';
import { startSimulator } from '../../sim/index.js';
import { splitHostPort } from '../../web/server.js';
import { CliError, EXIT } from '../exit-codes.js';
import { bold, dim } from '../output.js';

interface DemoOptions {
  broker?: string;
  timeScale: string;
  web: string;
  duration?: string;
  startHour: string;
  json?: boolean;
}

/**
 * `powerdeal demo`: a home on simulated hardware (the Modbus simulator served over real Modbus TCP,
 * in-memory I2C and GPIO), an embedded broker unless --broker is given, and its status API. Nothing to
 * configure and nothing left behind.
 */
export function register(program: Command): void {
  program
    .command('demo')
    .description('run a home on simulated hardware with an embedded MQTT broker')
    .option('--broker <url>', 'use this MQTT broker instead of the embedded one')
    .option('--time-scale <n>', 'simulated seconds per real second (the day passes faster)', '60')
    .option(
      '--web <host:port>',
      'where the status page listens (another free port if 8080 is taken)',
      '127.0.0.1:8080',
    )
    .option('--start-hour <h>', 'local hour the simulated day starts at (sunshine by default)', '9')
    .option('--duration <s>', 'stop after this many seconds (default: until Ctrl-C)')
    .option('--json', 'one JSON status line per update instead of text')
    .action(async (opts: DemoOptions) => {
      const timeScale = Number(opts.timeScale);
      if (!(timeScale > 0)) throw new CliError('--time-scale must be a positive number', EXIT.usage);
      const dir = mkdtempSync(join(tmpdir(), 'powerdeal-demo-'));
      const log = createLogger({ level: process.env.POWERDEAL_LOG_LEVEL ?? 'warn' });
      const startHour = Number(opts.startHour);
      if (!(startHour >= 0 && startHour < 24)) throw new CliError('--start-hour must be 0..23', EXIT.usage);
      // The simulated day starts at --start-hour today, so a demo run at night still shows sunshine.
      const dayStart = new Date();
      dayStart.setHours(Math.floor(startHour), (startHour % 1) * 60, 0, 0);
      const shift = dayStart.getTime() - Date.now();
      const sim = await startSimulator({
        tcp: { host: '127.0.0.1', port: 0 },
        timeScale,
        seed: 42,
        clock: () => Date.now() + shift,
      });
      const broker: EmbeddedBroker | undefined = opts.broker ? undefined : await startEmbeddedBroker();
      const brokerUrl = opts.broker ?? (broker as EmbeddedBroker).url;
      const config = demoConfig(`127.0.0.1:${sim.tcpPort}`, brokerUrl, dir, await webListen(opts.web));
      const service = new Service({
        config,
        profiles: loadProfiles(),
        log,
        now: Date.now,
        simulated: true,
        version: VERSION,
      });
      await service.start();
      const say = (line: string) => process.stdout.write(`${line}\n`);
      if (!opts.json) {
        say(bold('Powerdeal demo'));
        say(
          `  simulator  modbus tcp 127.0.0.1:${sim.tcpPort} (inverter unit 1, meter unit 2), ${timeScale}x time`,
        );
        say(`  broker     ${brokerUrl}${broker ? ' (embedded)' : ''}`);
        say(`  status     http://127.0.0.1:${service.webPort ?? '?'}/  (JSON: /api/status)`);
        say(`  database   ${config.store.path}`);
        say(dim('  Ctrl-C to stop'));
      }
      const timer = setInterval(() => {
        const s = service.status();
        const q = s.snapshot?.quantities;
        const fmt = (v: number | null | undefined) =>
          v === null || v === undefined ? '-' : v.toFixed(0).padStart(6);
        const published = broker ? [...broker.published.values()].reduce((a, b) => a + b, 0) : undefined;
        if (opts.json) {
          say(JSON.stringify({ snapshot: s.snapshot, link: s.link, outbox: s.outbox, published }));
          return;
        }
        say(
          `pv ${fmt(q?.pvPowerW?.value)} W  grid ${fmt(q?.gridPowerW?.value)} W  load ${fmt(q?.loadPowerW?.value)} W  ` +
            `dc ${q?.dcVoltageV?.value?.toFixed(2) ?? '-'} V  outbox ${s.outbox?.depth.telemetry ?? 0}  ` +
            `link ${s.link?.connected ? 'up' : 'down'}${published === undefined ? '' : `  published ${published}`}`,
        );
      }, 2000);
      const stop = async () => {
        clearInterval(timer);
        await service.stop(5000);
        await broker?.close();
        await sim.stop();
        rmSync(dir, { recursive: true, force: true });
      };
      await new Promise<void>((resolve) => {
        const done = () => void stop().then(resolve);
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
        if (opts.duration) setTimeout(done, Number(opts.duration) * 1000);
      });
    });
}

/** The default port may be taken by an installed service: then the demo takes any free one. */
async function webListen(wanted: string): Promise<string> {
  const [host, port] = splitHostPort(wanted);
  const free = await new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
  return free ? wanted : `${host}:0`;
}

function demoConfig(modbusTcp: string, broker: string, dir: string, web: string): Config {
  return configSchema.parse({
    home: { id: 'demo-home', zone: 'demo' },
    cycleMs: 1000,
    devices: [
      { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp: modbusTcp, unitId: 1, timeoutMs: 500 } },
      { id: 'grid-meter', profile: 'sdm630', modbus: { tcp: modbusTcp, unitId: 2, timeoutMs: 500 } },
      { id: 'dc-shunt', profile: 'ina219', i2c: { bus: 1, address: 0x40, shuntOhms: 0.1 } },
      { id: 'enclosure', profile: 'tmp102', i2c: { bus: 1, address: 0x48 } },
      { id: 'water-heater', profile: 'relay', gpio: { line: 17, activeLow: true }, load: { powerW: 2000 } },
    ],
    mqtt: { brokers: [broker], telemetryIntervalMs: 5000 },
    store: { path: join(dir, 'powerdeal.db') },
    web: { listen: web },
    // Its own control socket, so a demo never answers for (or collides with) an installed service.
    control: { socket: join(dir, 'control.sock') },
  });
}

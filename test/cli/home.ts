import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient } from '../../src/control/client/client.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { type CliProcess, type CliResult, runCli, spawnCli } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/ports.js';

/**
 * A home for the CLI tests: the inverter and the grid meter on two separate simulators (so one can be
 * "unplugged"), a simulated INA219 and relay, a config in a temp dir with its own database and control
 * socket, and the real service as a child process when asked for.
 */
export interface TestHome {
  dir: string;
  configFile: string;
  dbPath: string;
  socket: string;
  inverterPort: number;
  meterPort: number;
  /** `--tcp 127.0.0.1:<port>` of the inverter's and the meter's simulator, for hardware verbs. */
  inverterTcp: string[];
  meterTcp: string[];
  brokerUrl: string;
  inverterSim: Simulator;
  meterSim: Simulator | null;
  service: CliProcess | null;
  /** Runs a verb with this home's config. */
  cli(...args: string[]): Promise<CliResult>;
  startService(env?: NodeJS.ProcessEnv): Promise<void>;
  /** SIGKILL, as a crash or a pulled plug would end it. */
  killService(): Promise<void>;
  /** SIGTERM: a clean stop (the database is closed properly). */
  stopService(): Promise<void>;
  unplugMeter(): Promise<void>;
  dispose(): Promise<void>;
}

/** The unit ids a `modbus scan --json` found. */
export function scannedUnits(scan: CliResult): number[] {
  return (JSON.parse(scan.stdout) as { units: { unit: number }[] }).units.map((u) => u.unit);
}

export async function createHome(opts: { brokerUrl?: string } = {}): Promise<TestHome> {
  const dir = mkdtempSync(join(tmpdir(), 'pd-cli-'));
  const inverterSim = await startSimulator({ tcp: { port: 0 } });
  const meterSimStarted = await startSimulator({ tcp: { port: 0 } });
  const inverterPort = inverterSim.tcpPort!;
  const meterPort = meterSimStarted.tcpPort!;
  // Nothing listens on a port that was free a moment ago: a broker that is down.
  const brokerUrl = opts.brokerUrl ?? `mqtt://127.0.0.1:${await freePort()}`;
  const webPort = await freePort();
  const dbPath = join(dir, 'data', 'powerdeal.db');
  const socket = join(dir, 'run', 'control.sock');
  const configFile = join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    `home: { id: home-42, zone: lyon-7 }
cycleMs: 500
devices:
  - id: inverter
    profile: sunspec-inverter
    modbus: { tcp: "127.0.0.1:${inverterPort}", unitId: 1, timeoutMs: 300 }
  - id: grid-meter
    profile: sdm630
    modbus: { tcp: "127.0.0.1:${meterPort}", unitId: 2, timeoutMs: 300 }
  - id: dc-shunt
    profile: ina219
    i2c: { bus: 1, address: 0x40, shuntOhms: 0.1 }
  - id: water-heater
    profile: relay
    gpio: { line: 17, activeLow: true }
    load: { powerW: 2000 }
mqtt:
  brokers: ["${brokerUrl}"]
  reconnectBaseMs: 200
store: { path: ${dbPath} }
web: { listen: "127.0.0.1:${webPort}" }
control: { socket: ${socket} }
`,
  );
  const home: TestHome = {
    dir,
    configFile,
    dbPath,
    socket,
    inverterPort,
    meterPort,
    inverterTcp: ['--tcp', `127.0.0.1:${inverterPort}`],
    meterTcp: ['--tcp', `127.0.0.1:${meterPort}`],
    brokerUrl,
    inverterSim,
    meterSim: meterSimStarted,
    service: null,
    cli: (...args) => runCli(['--config', configFile, ...args], { timeoutMs: 50_000 }),
    async startService(env = {}) {
      const service = spawnCli(['run', '--config', configFile], {
        env: { POWERDEAL_LOG_LEVEL: 'warn', ...env },
      });
      home.service = service;
      // Ready when the control socket answers and a cycle has completed.
      await waitFor(
        async () => {
          if (service.child.exitCode !== null)
            throw new Error(`service exited:\n${service.lines.join('\n')}`);
          const client = await ControlClient.connect(socket).catch(() => undefined);
          if (!client) return false;
          try {
            const r = await client.call<{ health: { live: boolean } }>('status');
            return r.health.live;
          } finally {
            client.close();
          }
        },
        30_000,
        'the service to answer on its control socket',
        100,
      );
    },
    async killService() {
      await home.service?.stop('SIGKILL');
      home.service = null;
    },
    async stopService() {
      await home.service?.stop('SIGTERM');
      home.service = null;
    },
    async unplugMeter() {
      await home.meterSim?.stop();
      home.meterSim = null;
    },
    async dispose() {
      await home.killService();
      await inverterSim.stop();
      await home.meterSim?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return home;
}

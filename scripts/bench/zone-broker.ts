import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { freePort, sleep } from './util.js';
import { procCpuS, procRssMiB } from './zone-stats.js';

/**
 * The zone benchmark's broker: a mosquitto of its own on a free 127.0.0.1 port with the default limits
 * and `sys_interval 1`, its counters read from `$SYS`, its CPU and RSS from /proc.
 */

export interface Broker {
  url: string;
  pid: number;
  output(): string;
  kill(): Promise<void>;
}

/** Brokers still running: killed when this process exits, however it exits. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startBroker(dir: string): Promise<Broker> {
  const port = await freePort();
  // Started as root, mosquitto drops to its own user: let it read its config.
  chmodSync(dir, 0o755);
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'sys_interval 1',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = netConnect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`bench: mosquitto did not start\n${out}`);
    await sleep(50);
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid!,
    output: () => out,
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The cumulative `$SYS` counters read at a mark. */
const SYS_COUNTERS = {
  received: '$SYS/broker/messages/received',
  sent: '$SYS/broker/messages/sent',
  publishReceived: '$SYS/broker/publish/messages/received',
  publishSent: '$SYS/broker/publish/messages/sent',
  publishDropped: '$SYS/broker/publish/messages/dropped',
  clients: '$SYS/broker/clients/connected',
} as const;
type SysName = keyof typeof SYS_COUNTERS;

export interface BrokerMark {
  /** When mosquitto last published each counter, and its value. */
  sys: Record<SysName, { at: number; value: number } | undefined>;
  cpuS: number | null;
  rssMiB: number | null;
  at: number;
}

/** Subscribes to the broker's `$SYS` counters (published every second) and marks them with its CPU. */
export class BrokerWatch {
  private readonly latest = new Map<string, { at: number; value: number }>();
  private constructor(
    private readonly client: MqttClient,
    private readonly pid: number,
  ) {}

  static async open(broker: Broker): Promise<BrokerWatch> {
    const client = connect(broker.url, { protocolVersion: 5, clientId: 'bench-sys', reconnectPeriod: 0 });
    client.on('error', () => {});
    const watch = new BrokerWatch(client, broker.pid);
    client.on('message', (topic, payload) => {
      watch.latest.set(topic, { at: Date.now(), value: Number(payload.toString()) });
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(Object.values(SYS_COUNTERS), { qos: 0 });
    return watch;
  }

  /** The latest counters with the time mosquitto published them (rates use those times, not the mark's). */
  mark(): BrokerMark {
    const sys = Object.fromEntries(
      Object.entries(SYS_COUNTERS).map(([name, topic]) => [name, this.latest.get(topic)]),
    ) as BrokerMark['sys'];
    return { sys, cpuS: procCpuS(this.pid), rssMiB: procRssMiB(this.pid), at: Date.now() };
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/** Per-second rates of the broker between two marks, divided by `compression`. */
export function brokerRates(a: BrokerMark, b: BrokerMark, compression: number) {
  const rate = (name: SysName) => {
    const x = a.sys[name];
    const y = b.sys[name];
    if (!x || !y || y.at <= x.at) return null;
    return Math.round((((y.value - x.value) * 1000) / (y.at - x.at) / compression) * 10) / 10;
  };
  const wallS = (b.at - a.at) / 1000;
  const cpuPct = a.cpuS !== null && b.cpuS !== null ? ((b.cpuS - a.cpuS) / wallS) * 100 : null;
  return {
    messagesReceivedPerS: rate('received'),
    messagesSentPerS: rate('sent'),
    publishReceivedPerS: rate('publishReceived'),
    publishSentPerS: rate('publishSent'),
    publishDroppedPerS: rate('publishDropped'),
    clients: b.sys.clients?.value ?? null,
    /** CPU of the mosquitto process, % of one core, at the rates the run had on the wall clock. */
    cpuPctWall: cpuPct === null ? null : Math.round(cpuPct * 100) / 100,
    rssMiB: b.rssMiB,
  };
}

/**
 * Real mosquitto bridges for tests, loopback only, everything under temp dirs.
 *
 * startMosquittoBridgePair(): broker A and broker B on free 127.0.0.1 ports; B bridges `powerdeal/#`
 * both ways to A at QoS 1 with a persistent session (cleansession false) through an in-process TCP
 * proxy, so a test can cut() the link (live sockets destroyed, new ones reset at once) and restore() it.
 * try_private true marks the bridge to A (mosquitto), which then never sends a bridged message back
 * over the bridge it came from: no topic loops. B's bridge state goes to `pd-bridge/<name>/state`
 * ("1" up, "0" down, retained, on both brokers), outside powerdeal/# so it is never bridged itself.
 *
 * startBridgedMosquitto({ remotePort, tryPrivate: false }) bridges one mosquitto to any MQTT 3.1.1
 * broker, e.g. a RabbitMQ node of scripts/brokers/rabbitmq-cluster.ts (RabbitMQ refuses the private
 * bridge flag, hence try_private false). RabbitMQ has no "no local": a `both` topic comes back once
 * (mosquitto does not forward it again, but local subscribers on B see it twice), so with RabbitMQ
 * bridge distinct prefixes, e.g. topics ['powerdeal/up/# out 1', 'powerdeal/down/# in 1'].
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort, type Spawned, spawnKept, waitFor } from './util.js';

export interface MosquittoNode {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  pid(): number | undefined;
  running(): boolean;
  start(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  output(): string;
  dispose(): Promise<void>;
}

const liveBrokers = new Set<MosquittoNode>();
const liveProxies = new Set<TcpProxy>();

// Last resort when a test run ends without dispose(): no mosquitto or temp dir may outlive it.
process.once('exit', () => {
  for (const m of liveBrokers) {
    const pid = m.pid();
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(m.dir, { recursive: true, force: true });
  }
});

/** One mosquitto on a free 127.0.0.1 port (or `port`), anonymous, with extra mosquitto.conf lines. */
export async function startMosquittoNode(
  opts: { port?: number; conf?: string[] } = {},
): Promise<MosquittoNode> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'pd-mosq-bridge-'));
  // Started as root, mosquitto drops to its own user after reading the config.
  chmodSync(dir, 0o755);
  const confPath = join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    ...(opts.conf ?? []),
  ];
  writeFileSync(confPath, `${lines.join('\n')}\n`);
  let proc: Spawned | undefined;
  let past = '';
  const m: MosquittoNode = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    pid: () => (proc?.alive() ? proc.child.pid : undefined),
    running: () => proc?.alive() ?? false,
    async start() {
      if (proc?.alive()) return;
      past += proc?.output() ?? '';
      const p = spawnKept('mosquitto', ['-c', confPath]);
      proc = p;
      await waitFor(
        async () => {
          if (!p.alive()) throw new Error(`mosquitto exited: ${p.output()}`);
          return canConnect(port);
        },
        10_000,
        `mosquitto on port ${port}`,
      );
    },
    async stop() {
      if (!proc?.alive()) return;
      proc.child.kill('SIGTERM');
      await proc.exited;
    },
    async kill() {
      if (!proc?.alive()) return;
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
    output: () => past + (proc?.output() ?? ''),
    async dispose() {
      liveBrokers.delete(m);
      await m.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  liveBrokers.add(m);
  try {
    await m.start();
  } catch (err) {
    await m.dispose();
    throw err;
  }
  return m;
}

export interface TcpProxy {
  /** Where clients connect (127.0.0.1). */
  readonly port: number;
  readonly upstreamPort: number;
  /** Destroy every live connection and reset new ones at once until restore(). */
  cut(): void;
  restore(): void;
  isCut(): boolean;
  /** Connections piped right now. */
  live(): number;
  /** Connections accepted and piped so far (not those reset while cut). */
  accepted(): number;
  close(): Promise<void>;
}

/** A loopback TCP proxy to 127.0.0.1:upstreamPort that can cut the link. */
export async function startTcpProxy(upstreamPort: number, port?: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let cut = false;
  let accepted = 0;
  const server = createServer((down) => {
    if (cut) {
      // Accepted by the kernel already: an RST right away is the closest to a refused connection.
      down.resetAndDestroy();
      return;
    }
    accepted++;
    const up = tcpConnect({ host: '127.0.0.1', port: upstreamPort });
    const pair: [Socket, Socket] = [down, up];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
    down.pipe(up);
    up.pipe(down);
  });
  const listenPort = port ?? (await freePort());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  const proxy: TcpProxy = {
    port: listenPort,
    upstreamPort,
    cut() {
      cut = true;
      for (const [down, up] of pairs) {
        down.resetAndDestroy();
        up.resetAndDestroy();
      }
      pairs.clear();
    },
    restore() {
      cut = false;
    },
    isCut: () => cut,
    live: () => pairs.size,
    accepted: () => accepted,
    async close() {
      liveProxies.delete(proxy);
      proxy.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  liveProxies.add(proxy);
  return proxy;
}

export interface BridgeOptions {
  /** Port of the remote broker (or of a proxy in front of it) on 127.0.0.1. */
  remotePort: number;
  /** Connection name; also in the client id and the state topic (default pd-bridge). */
  name?: string;
  /** mosquitto `topic` lines' values (default ['powerdeal/# both 1']). */
  topics?: string[];
  /** true for a mosquitto remote (loop prevention); false for RabbitMQ and other brokers. Default true. */
  tryPrivate?: boolean;
  /** Seconds between reconnect attempts (default 1). */
  restartTimeout?: number;
  /** Bridge keepalive, seconds (default 5). */
  keepalive?: number;
  username?: string;
  password?: string;
}

/** The state topic a bridge connection `name` publishes on ("1" up, "0" down). */
export const bridgeStateTopic = (name: string) => `pd-bridge/${name}/state`;

/** mosquitto.conf lines for one bridge connection (mosquitto 2.0). */
export function bridgeConf(o: BridgeOptions): string[] {
  const name = o.name ?? 'pd-bridge';
  return [
    `connection ${name}`,
    `address 127.0.0.1:${o.remotePort}`,
    ...(o.topics ?? ['powerdeal/# both 1']).map((t) => `topic ${t}`),
    // The remote keeps our subscriptions and queued QoS 1 messages across a cut, and so does the
    // local side (local_cleansession follows cleansession).
    'cleansession false',
    `remote_clientid ${name}-${process.pid}`,
    `try_private ${o.tryPrivate ?? true}`,
    'bridge_protocol_version mqttv311',
    `restart_timeout ${o.restartTimeout ?? 1}`,
    `keepalive_interval ${o.keepalive ?? 5}`,
    'start_type automatic',
    'notifications true',
    `notification_topic ${bridgeStateTopic(name)}`,
    ...(o.username ? [`remote_username ${o.username}`] : []),
    ...(o.password ? [`remote_password ${o.password}`] : []),
  ];
}

export interface BridgedMosquitto {
  broker: MosquittoNode;
  /** The proxy between the bridge and the remote, when `viaProxy` (the default). */
  proxy?: TcpProxy;
  dispose(): Promise<void>;
}

/** A mosquitto bridged to the broker on `remotePort`, through a cuttable proxy unless viaProxy is false. */
export async function startBridgedMosquitto(
  opts: BridgeOptions & { viaProxy?: boolean; port?: number },
): Promise<BridgedMosquitto> {
  const proxy = opts.viaProxy === false ? undefined : await startTcpProxy(opts.remotePort);
  try {
    const broker = await startMosquittoNode({
      ...(opts.port === undefined ? {} : { port: opts.port }),
      conf: bridgeConf({ ...opts, remotePort: proxy?.port ?? opts.remotePort }),
    });
    return {
      broker,
      ...(proxy ? { proxy } : {}),
      async dispose() {
        await broker.dispose();
        await proxy?.close();
      },
    };
  } catch (err) {
    await proxy?.close();
    throw err;
  }
}

export interface MosquittoBridgePair {
  /** The remote side: a plain mosquitto. */
  a: MosquittoNode;
  /** The side that bridges to A through the proxy. */
  b: MosquittoNode;
  proxy: TcpProxy;
  /** The bridge connection's name (its state topic is bridgeStateTopic(name)). */
  name: string;
  dispose(): Promise<void>;
}

export async function startMosquittoBridgePair(
  opts: Omit<BridgeOptions, 'remotePort'> = {},
): Promise<MosquittoBridgePair> {
  const a = await startMosquittoNode();
  try {
    const { broker: b, proxy } = await startBridgedMosquitto({
      tryPrivate: true,
      ...opts,
      remotePort: a.port,
    });
    return {
      a,
      b,
      proxy: proxy!,
      name: opts.name ?? 'pd-bridge',
      async dispose() {
        await Promise.all([a.dispose(), b.dispose()]);
        await proxy!.close();
      },
    };
  } catch (err) {
    await a.dispose();
    throw err;
  }
}

/** Every broker and proxy started in this process (for afterAll). */
export async function disposeAllMosquittoBridges(): Promise<void> {
  await Promise.all([...liveBrokers].map((m) => m.dispose()));
  await Promise.all([...liveProxies].map((p) => p.close()));
}

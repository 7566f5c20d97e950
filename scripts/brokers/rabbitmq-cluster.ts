/**
 * A real N-node RabbitMQ cluster (default 3) on one machine, for tests: hermetic, loopback only,
 * everything under one temp dir, nothing left behind.
 *
 * - Node names pd<random>-<i>@localhost; AMQP, MQTT and Erlang distribution ports are free 127.0.0.1
 *   ports; the distribution listens on 127.0.0.1 only (inet_dist_use_interface).
 * - A private epmd (our own child, on a free port, ERL_EPMD_PORT) and `-start_epmd false`, so the
 *   system epmd on 4369, or a RabbitMQ already running here, is never used nor started.
 * - HOME points into the temp dir: the private Erlang cookie lives there, for the nodes and rabbitmqctl
 *   alike; RABBITMQ_CONF_ENV_FILE points to an empty file so /etc/rabbitmq is never read.
 * - Only rabbitmq_mqtt is enabled. MQTT: anonymous connections are allowed and map to the default
 *   `guest` user (guest may log in from loopback only, which is all we use), so tests connect with no
 *   credentials. AMQP: amqp://guest:guest@127.0.0.1:<port>.
 * - Nodes 1..N-1 boot in parallel with node 0, then join it: rabbitmqctl stop_app; join_cluster; start_app,
 *   and `cluster_status` must list all N running nodes. MQTT is enabled on them only for that start_app
 *   (why: see `joinNode`).
 *
 * CLI: node --import tsx scripts/brokers/rabbitmq-cluster.ts start [--nodes N] [--state FILE]
 *      prints the cluster as JSON, runs until SIGINT/SIGTERM, then tears down;
 *      node --import tsx scripts/brokers/rabbitmq-cluster.ts stop [--state FILE] ends such a run.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { baseEnv, layOut, nodeEnv, RABBIT_BIN, type RabbitNode, writePlugins } from './rabbitmq-env.js';
import { canConnect, findBeam, type Spawned, spawnKept, waitFor } from './util.js';

export type { RabbitNode } from './rabbitmq-env.js';

export interface RabbitClusterOptions {
  /** Number of nodes (default 3). */
  nodes?: number;
  /** Extra emulator flags for every node (RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS), after ours. */
  erlArgs?: string;
  /** Extra rabbitmq.conf lines for every node. */
  conf?: string[];
  /**
   * Budget for each node boot and each rabbitmqctl call (default 180 s: a node restarted after its
   * cluster lost quorum blocks ~100 s in the MQTT plugin's start before it listens).
   */
  timeoutMs?: number;
  /** Called with each startup phase and the ms since the start (e.g. to log them). */
  onProgress?: (phase: string, ms: number) => void;
}

export interface RabbitCluster {
  readonly dir: string;
  readonly epmdPort: number;
  readonly nodes: readonly RabbitNode[];
  /** Wall time startRabbitCluster took, ms. */
  readonly startupMs: number;
  /** The node's beam.smp pid (not a wrapper shell), undefined while it is down. */
  pid(i: number): number | undefined;
  running(i: number): boolean;
  /** SIGKILL the node's beam.smp and wait for it to be gone. */
  kill(i: number): Promise<void>;
  /** Graceful stop (SIGTERM to beam.smp, which RabbitMQ handles as a clean shutdown). */
  stop(i: number): Promise<void>;
  /** Start a stopped node again on the same ports and data dir, so it rejoins; resolves once it serves. */
  start(i: number): Promise<void>;
  /** rabbitmqctl -n <node i> ...args; resolves with stdout, rejects on a non-zero exit. */
  ctl(i: number, args: string[]): Promise<string>;
  /** Running node names as node `i` sees them (cluster_status). */
  runningNodes(i?: number): Promise<string[]>;
  /** What node i printed on stdout/stderr (its log file is under `dir`). */
  output(i: number): string;
  /** Kill every node, rabbitmqctl and the private epmd, then remove the temp dir. */
  dispose(): Promise<void>;
}

const live = new Set<{ pids(): number[]; dir: string; dispose(): Promise<void> }>();

// Last resort when a test run ends without dispose(): no beam, epmd or temp dir may outlive it.
process.once('exit', () => {
  for (const c of live) {
    for (const pid of c.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // A beam killed a moment ago may still be closing files: retry the removal briefly.
    rmSync(c.dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

export async function startRabbitCluster(opts: RabbitClusterOptions = {}): Promise<RabbitCluster> {
  const t0 = Date.now();
  const progress = (phase: string) => opts.onProgress?.(phase, Date.now() - t0);
  const n = opts.nodes ?? 3;
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const { dir, epmdPort, nodes } = await layOut(n, opts.conf ?? []);
  const base = baseEnv(dir, epmdPort);
  const procs: (Spawned | undefined)[] = nodes.map(() => undefined);
  const beams: (number | undefined)[] = nodes.map(() => undefined);
  const ctls = new Set<Spawned>();
  const epmd = spawnKept('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], { env: base });
  const handle = {
    dir,
    dispose: () => cluster.dispose(),
    pids: () => [
      ...procs.flatMap((p) => (p?.alive() && p.child.pid !== undefined ? [p.child.pid] : [])),
      ...beams.flatMap((b) => (b === undefined ? [] : [b])),
      ...[...ctls].flatMap((c) => (c.child.pid === undefined ? [] : [c.child.pid])),
      ...(epmd.alive() && epmd.child.pid !== undefined ? [epmd.child.pid] : []),
    ],
  };
  live.add(handle);

  const ctl = async (i: number, args: string[]): Promise<string> => {
    const node = nodes[i]!;
    const p = spawnKept(join(RABBIT_BIN, 'rabbitmqctl'), ['-q', '-n', node.name, ...args], {
      env: base,
      cwd: dir,
    });
    ctls.add(p);
    const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
    await p.exited;
    clearTimeout(timer);
    ctls.delete(p);
    if (p.child.exitCode !== 0) {
      throw new Error(
        `rabbitmqctl ${args.join(' ')} on ${node.name} exited ${p.child.exitCode}: ${p.output()}`,
      );
    }
    return p.output();
  };

  /** Boots node i and resolves once it serves AMQP (its last listener) and await_startup agrees. */
  const boot = async (i: number): Promise<void> => {
    const node = nodes[i]!;
    if (procs[i]?.alive()) return;
    const p = spawnKept(join(RABBIT_BIN, 'rabbitmq-server'), [], {
      env: nodeEnv(base, node, opts.erlArgs ?? ''),
      cwd: node.dir,
    });
    procs[i] = p;
    void p.exited.then(() => {
      if (procs[i] === p) beams[i] = undefined;
    });
    await waitFor(
      () => {
        if (!p.alive()) throw new Error(`${node.name} exited: ${p.output().slice(-4000)}`);
        beams[i] ??= p.child.pid === undefined ? undefined : findBeam(p.child.pid);
        return beams[i] !== undefined && canConnect(node.amqpPort);
      },
      timeoutMs,
      `${node.name} AMQP port ${node.amqpPort}`,
      100,
    );
    await ctl(i, ['await_startup']);
  };

  const signal = async (i: number, sig: NodeJS.Signals): Promise<void> => {
    const p = procs[i];
    if (!p?.alive()) return;
    const beam = beams[i] ?? (p.child.pid === undefined ? undefined : findBeam(p.child.pid));
    try {
      process.kill(beam ?? p.child.pid!, sig);
    } catch {
      // already gone
    }
    const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
    await p.exited;
    clearTimeout(timer);
    beams[i] = undefined;
  };

  let disposed = false;
  const cluster: RabbitCluster = {
    dir,
    epmdPort,
    nodes,
    startupMs: 0,
    pid: (i) => (procs[i]?.alive() ? beams[i] : undefined),
    running: (i) => procs[i]?.alive() ?? false,
    kill: (i) => signal(i, 'SIGKILL'),
    stop: (i) => signal(i, 'SIGTERM'),
    start: (i) => boot(i),
    ctl,
    async runningNodes(i = 0) {
      const out = await ctl(i, ['cluster_status', '--formatter', 'json']);
      // stdout and stderr come merged: the JSON document starts at the first brace.
      const status = JSON.parse(out.slice(out.indexOf('{'))) as {
        running_nodes?: string[];
      };
      return status.running_nodes ?? [];
    },
    output: (i) => procs[i]?.output() ?? '',
    async dispose() {
      if (disposed) return;
      disposed = true;
      for (const c of ctls) c.child.kill('SIGKILL');
      await Promise.all(nodes.map((_, i) => signal(i, 'SIGKILL')));
      await Promise.all([...ctls].map((c) => c.exited));
      epmd.child.kill('SIGKILL');
      await epmd.exited;
      live.delete(handle);
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await waitFor(
      () => {
        if (!epmd.alive()) throw new Error(`epmd exited: ${epmd.output()}`);
        return canConnect(epmdPort);
      },
      10_000,
      `epmd on ${epmdPort}`,
    );
    await Promise.all(nodes.map((_, i) => boot(i).then(() => progress(`${nodes[i]!.name} booted`))));
    for (let i = 1; i < n; i++) {
      await joinNode(i);
      progress(`${nodes[i]!.name} joined`);
    }
    const running = await cluster.runningNodes(0);
    const missing = nodes.filter((node) => !running.includes(node.name));
    if (missing.length > 0) throw new Error(`cluster_status misses ${missing.map((m) => m.name).join(', ')}`);
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
  return { ...cluster, startupMs: Date.now() - t0 };

  /**
   * Joins node i to node 0. MQTT is enabled on it only now: a first-boot MQTT plugin that sees no peer
   * waits 3-6 s and then elects itself the single member of its own client-id Raft cluster, which
   * join_cluster would not merge into node 0's. Enabled after the join, it finds node 0 and joins that.
   */
  async function joinNode(i: number): Promise<void> {
    await ctl(i, ['stop_app']);
    progress(`${nodes[i]!.name} stop_app`);
    await ctl(i, ['join_cluster', nodes[0]!.name]);
    progress(`${nodes[i]!.name} join_cluster`);
    writePlugins(nodes[i]!, ['rabbitmq_mqtt']);
    await ctl(i, ['start_app']);
    progress(`${nodes[i]!.name} start_app`);
    await waitFor(() => canConnect(nodes[i]!.mqttPort), timeoutMs, `${nodes[i]!.name} MQTT port`, 100);
  }
}

/** Disposes every cluster started in this process and not disposed yet (for afterAll). */
export async function disposeAllRabbitClusters(): Promise<void> {
  await Promise.all([...live].map((c) => c.dispose()));
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const cmd = process.argv[2];
  const stateFile = arg('--state') ?? join(tmpdir(), 'powerdeal-rabbitmq-cluster.json');
  if (cmd === 'start') {
    const cluster = await startRabbitCluster({ nodes: Number(arg('--nodes') ?? 3) });
    const state = {
      pid: process.pid,
      dir: cluster.dir,
      epmdPort: cluster.epmdPort,
      startupMs: cluster.startupMs,
      nodes: cluster.nodes,
    };
    writeFileSync(stateFile, JSON.stringify(state));
    process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
    const teardown = async () => {
      await cluster.dispose();
      rmSync(stateFile, { force: true });
      process.exit(0);
    };
    process.once('SIGINT', teardown);
    process.once('SIGTERM', teardown);
    setInterval(() => {}, 1 << 30);
  } else if (cmd === 'stop') {
    const { pid } = JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number };
    process.kill(pid, 'SIGTERM');
    await waitFor(
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      60_000,
      `cluster runner ${pid} to exit`,
    );
  } else {
    process.stderr.write(
      'usage: rabbitmq-cluster.ts start [--nodes N] [--state FILE] | stop [--state FILE]\n',
    );
    process.exit(2);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

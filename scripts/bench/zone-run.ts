import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'mqtt';
import { createEnvelope, encodeEnvelope } from '../../src/protocol/envelope.js';
import { createSigner } from '../../src/protocol/signing.js';
import { homeTopic } from '../../src/protocol/topics.js';
import { round, sleep } from './util.js';
import { type AuditResult, audit, Observer } from './zone-audit.js';
import { BrokerWatch, startBroker } from './zone-broker.js';
import type { Final, Mark, Progress, WorkerInit, WorkerRequest } from './zone-ipc.js';
import { type Marks, summarise, type ZoneRun } from './zone-summary.js';
import { homeKey, SLOT_MS, type ZoneRates } from './zone-traffic.js';

/** One run of the zone benchmark: one zone size, one way of sending (link or raw), its own broker. */

export interface RunOptions {
  homes: number;
  mode: 'link' | 'raw';
  rates: ZoneRates;
  hourS: number;
  workers: number;
  idleS: number;
  warmS: number;
  windowS: number;
  drainTimeoutS: number;
  sign: boolean;
  audit: boolean;
  observer: boolean;
  /** Write each worker's V8 CPU profile here. */
  profileDir?: string;
}

/** Temporary directories of runs under way: removed when this process exits, however it exits. */
const liveDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

const PROBE_HOME = 'bench-probe';
type Call = WorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'rid'> : never) : never;
const WORKER = fileURLToPath(new URL('./zone-worker.ts', import.meta.url));

class Worker {
  private rid = 0;
  private gone: string | null = null;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly exited: Promise<void>;
  constructor(
    readonly child: ChildProcess,
    readonly mine: number[],
  ) {
    child.on('message', (m: { rid: number; data?: unknown; error?: string }) => {
      const w = this.waiting.get(m.rid);
      this.waiting.delete(m.rid);
      if (m.error !== undefined) w?.reject(new Error(`zone worker: ${m.error}`));
      else w?.resolve(m.data);
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('error', () => {});
    child.once('exit', (code, signal) => {
      this.gone = `zone worker ${child.pid} exited (${signal ?? `code ${code}`})`;
      for (const w of this.waiting.values()) w.reject(new Error(this.gone));
      this.waiting.clear();
    });
  }

  call<T>(req: Call): Promise<T> {
    const rid = ++this.rid;
    return new Promise<T>((resolve, reject) => {
      if (!this.child.connected) return reject(new Error(this.gone ?? 'zone worker is gone'));
      this.waiting.set(rid, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...req, rid });
    });
  }
}

async function until(what: string, timeoutS: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`zone bench: timed out waiting for ${what}`);
    await sleep(200);
  }
}

function sumProgress(ps: Progress[]): Progress {
  const t: Progress = {
    pending: 0,
    offersSent: 0,
    inboxSent: 0,
    ownSent: 0,
    received: 0,
    duplicates: 0,
    probed: 0,
    connected: 0,
    refused: {},
  };
  for (const p of ps) {
    for (const k of [
      'pending',
      'offersSent',
      'inboxSent',
      'ownSent',
      'received',
      'duplicates',
      'probed',
      'connected',
    ] as const)
      t[k] += p[k];
    for (const [k, n] of Object.entries(p.refused)) t.refused[k] = (t.refused[k] ?? 0) + n;
  }
  return t;
}

/** The retained probe offer every home must have taken before the traffic starts (so all are subscribed). */
async function probe(url: string, zone: string, sign: boolean, clear: boolean): Promise<void> {
  const client = connect(url, { protocolVersion: 5, clientId: `bench-probe-${zone}`, reconnectPeriod: 0 });
  client.on('error', () => {});
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  const topic = homeTopic(zone, PROBE_HOME, 'offer');
  if (clear) await client.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true });
  else {
    const now = Date.now();
    const slot = Math.floor(now / SLOT_MS) * SLOT_MS + 2 * SLOT_MS;
    const body = {
      slot,
      slotMs: SLOT_MS,
      version: 1,
      energyWh: 1,
      availableWh: 1,
      priceCentsPerKwh: 1,
      reserveWh: 0,
    };
    let env = createEnvelope({ type: 'offer', from: PROBE_HOME, zone, seq: 0, ts: now, exp: slot, body });
    if (sign) env = createSigner(PROBE_HOME, homeKey(zone, PROBE_HOME).privateKey).sign(env);
    await client.publishAsync(topic, encodeEnvelope(env), { qos: 1, retain: true });
  }
  await client.endAsync();
}

export async function runZone(o: RunOptions): Promise<ZoneRun> {
  const log = (s: string) => process.stderr.write(`  zone ${o.mode} N=${o.homes}: ${s}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-zone-'));
  liveDirs.add(dir);
  const zone = `bench-${o.mode}-${o.homes}`;
  const homes = Array.from({ length: o.homes }, (_, i) => `home-${String(i).padStart(3, '0')}`);
  const k = Math.max(1, Math.min(o.workers, o.homes));
  const broker = await startBroker(dir);
  const workers: Worker[] = [];
  let watch: BrokerWatch | null = null;
  let observer: Observer | null = null;
  try {
    watch = await BrokerWatch.open(broker);
    if (o.observer) observer = await Observer.open(broker.url, zone, PROBE_HOME, o.audit);
    for (let w = 0; w < k; w++) {
      const mine = homes.map((_, i) => i).filter((i) => i % k === w);
      const child = fork(WORKER, [], {
        execArgv: [
          '--import',
          'tsx',
          '--expose-gc',
          ...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : []),
        ],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      workers.push(new Worker(child, mine));
    }
    const base = await Promise.all(
      workers.map((w) => {
        const init: WorkerInit = {
          mode: o.mode,
          url: broker.url,
          zone,
          dir,
          homes,
          mine: w.mine,
          rates: o.rates,
          hourS: o.hourS,
          sign: o.sign,
          audit: o.audit,
          probeHome: PROBE_HOME,
        };
        return w.call<{ rssBaseMiB: number }>({ op: 'init', init });
      }),
    );
    const progress = async () =>
      sumProgress(await Promise.all(workers.map((w) => w.call<Progress>({ op: 'progress' }))));
    log(`${k} workers, connecting`);
    const started = Date.now();
    await until('every home connected', 120, async () => (await progress()).connected === o.homes);
    const connectedAt = Date.now();
    await probe(broker.url, zone, o.sign, false);
    await until('every home subscribed', 60, async () => (await progress()).probed === o.homes);
    await probe(broker.url, zone, o.sign, true);
    log(`connected and subscribed in ${Date.now() - started} ms`);
    // The link starts draining up to 3 s after it connected (drainStartJitterMs).
    await sleep(Math.max(0, connectedAt + 3500 - Date.now()));
    const mark = async (latency: boolean): Promise<Marks> => {
      const b = watch!.mark();
      const ws = await Promise.all(workers.map((w) => w.call<Mark>({ op: 'mark', latency })));
      return { broker: b, workers: ws, at: Date.now() };
    };
    log(`idle ${o.idleS} s`);
    const idle0 = await mark(false);
    await sleep(o.idleS * 1000);
    const idle1 = await mark(false);
    log(`traffic: warm-up ${o.warmS} s, window ${o.windowS} s`);
    await Promise.all(workers.map((w) => w.call({ op: 'traffic', on: true })));
    await sleep(o.warmS * 1000);
    const w0 = await mark(true);
    const loadAtStart = loadavg()[0]!;
    await sleep(o.windowS * 1000);
    const w1 = await mark(true);
    const load1m = [round(loadAtStart, 2), round(loadavg()[0]!, 2)];
    await Promise.all(workers.map((w) => w.call({ op: 'traffic', on: false })));
    log('draining');
    let last = await progress();
    const expected = (p: Progress) => p.offersSent * (o.homes - 1) + p.inboxSent;
    const observed = (p: Progress) => p.offersSent + p.inboxSent + p.ownSent;
    const balanced = (p: Progress) =>
      p.pending === 0 && p.received >= expected(p) && (!observer || observer.total() >= observed(p));
    const drainStart = Date.now();
    while (!balanced(last) && Date.now() - drainStart < o.drainTimeoutS * 1000) {
      await sleep(250);
      last = await progress();
    }
    const finals = await Promise.all(workers.map((w) => w.call<Final>({ op: 'finish' })));
    const audited: AuditResult | null = o.audit
      ? audit(
          homes,
          reorder(workers, finals, (f) => f.sent!),
          reorder(workers, finals, (f) => f.received!),
          observer?.ids,
        )
      : null;
    return summarise(o, {
      homesPerWorker: workers.map((w) => w.mine.length),
      base,
      idle0,
      idle1,
      w0,
      w1,
      last,
      finals,
      audited,
      observer,
      expected: expected(last),
      observed: observed(last),
      load1m,
    });
  } finally {
    for (const w of workers) {
      if (w.child.connected) w.child.disconnect();
      const t = setTimeout(() => w.child.kill('SIGKILL'), 5000);
      await w.exited;
      clearTimeout(t);
    }
    await observer?.close().catch(() => {});
    await watch?.close().catch(() => {});
    await broker.kill();
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  }
}

/** Per-home lists from the workers, back in home order. */
function reorder<T>(workers: Worker[], finals: Final[], pick: (f: Final) => T[]): T[] {
  const out: T[] = [];
  workers.forEach((w, wi) => {
    const lists = pick(finals[wi]!);
    w.mine.forEach((idx, j) => {
      out[idx] = lists[j]!;
    });
  });
  return out;
}

export type { ZoneRun };

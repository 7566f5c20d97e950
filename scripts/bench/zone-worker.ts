/**
 * One worker process of the zone benchmark (scripts/bench/zone-load.ts): hosts a share of the zone's
 * homes, runs their traffic (timers for offers, telemetry and settlements; accepts, trades, rejects and
 * acks in answer to what they receive), counts what each home sends and receives, and answers the
 * parent's requests over the IPC channel. Exits when the parent goes away.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Envelope } from '../../src/protocol/envelope.js';
import { createSigner, createVerifier, type Verify } from '../../src/protocol/signing.js';
import { round } from './util.js';
import { type HomeTransport, linkHome, rawHome } from './zone-homes.js';
import type { Final, Mark, Progress, WorkerInit, WorkerRequest } from './zone-ipc.js';
import { Histogram } from './zone-stats.js';
import {
  type Chances,
  chances,
  homeKey,
  KINDS,
  type Kind,
  Messages,
  type Outgoing,
  poissonWait,
} from './zone-traffic.js';

interface Home {
  idx: number;
  id: string;
  t: HomeTransport;
  msgs: Messages;
  sent: number[];
  received: number[];
  duplicates: number;
  offersSent: number;
  inboxSent: number;
  ownSent: number;
  probed: boolean;
  lastOfferSeq: Int32Array;
  lastInboxSeq: Map<number, number>;
  /** acceptId → [offer ts, accept ts]. */
  asked: Map<string, [number, number]>;
  partners: string[];
  timers: NodeJS.Timeout[];
  auditSent: [string, string][];
  auditReceived: string[];
}

const KIND_INDEX = new Map<string, number>(KINDS.map((k, i) => [k, i]));
const OFFER = KIND_INDEX.get('offer')!;
const latency = {
  offerToTrade: new Histogram(),
  acceptToTrade: new Histogram(),
  offerDelivery: new Histogram(),
};
/** The sampling period of the event-loop delay histogram, which its figures include. */
const LOOP_RESOLUTION_MS = 10;
const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loop.enable();
/**
 * RSS, bytes; `collect`: after a full collection first (the worker runs with --expose-gc), which stops
 * the worker for a moment, so never while the traffic runs.
 */
function rss(collect: boolean): number {
  if (collect) global.gc?.();
  return process.memoryUsage().rss;
}
const rssBase = rss(true);

let cfg: WorkerInit;
let ch: Chances;
let hourMs = 0;
let indexOf = new Map<string, number>();
let homes: Home[] = [];
let traffic = false;

function send(h: Home, build: () => Outgoing[]): void {
  for (const o of h.t.send(build)) {
    h.sent[KIND_INDEX.get(o.kind)!]!++;
    let target = '';
    if ('inbox' in o.route) {
      h.inboxSent++;
      target = o.route.inbox;
    } else if (o.route.own === 'offer') {
      h.offersSent++;
      target = '*';
    } else h.ownSent++;
    if (cfg.audit) h.auditSent.push([o.env.id, target]);
  }
}

/**
 * Seen before: seq not above the last one from that sender on that kind (each outbox class drains in
 * order, and one connection keeps it). A reordering would count here too; the audit checks by id.
 */
function duplicate(h: Home, env: Envelope, sender: number, kind: number): boolean {
  if (kind === OFFER) {
    if (env.seq <= h.lastOfferSeq[sender]!) return true;
    h.lastOfferSeq[sender] = env.seq;
    return false;
  }
  const key = sender * KINDS.length + kind;
  if (env.seq <= (h.lastInboxSeq.get(key) ?? -1)) return true;
  h.lastInboxSeq.set(key, env.seq);
  return false;
}

function take(h: Home, env: Envelope): void {
  if (env.from === cfg.probeHome) {
    h.probed = true;
    return;
  }
  const kind = KIND_INDEX.get(env.type);
  const sender = indexOf.get(env.from);
  if (kind === undefined || sender === undefined) return;
  if (cfg.audit) h.auditReceived.push(env.id);
  if (duplicate(h, env, sender, kind)) {
    h.duplicates++;
    return;
  }
  h.received[kind]!++;
  const now = Date.now();
  const body = env.body as Record<string, unknown>;
  switch (env.type as Kind) {
    case 'offer':
      latency.offerDelivery.add(now - env.ts);
      if (traffic && Math.random() < ch.accept) {
        send(h, () => {
          const out = h.msgs.accept(now, env);
          h.asked.set(out[0]!.env.body.acceptId as string, [env.ts, now]);
          return out;
        });
      }
      break;
    case 'accept': {
      const r = Math.random();
      if (r < ch.trade) send(h, () => h.msgs.trade(now, env));
      else if (r < ch.trade + ch.reject) send(h, () => h.msgs.reject(now, env));
      break;
    }
    case 'trade': {
      const asked = h.asked.get(body.acceptId as string);
      if (asked) {
        latency.offerToTrade.add(now - asked[0]);
        latency.acceptToTrade.add(now - asked[1]);
        h.asked.delete(body.acceptId as string);
      }
      h.partners.push(env.from);
      if (h.partners.length > 8) h.partners.shift();
      if (Math.random() < ch.ack) send(h, () => h.msgs.ack(now, env));
      break;
    }
    case 'reject':
      h.asked.delete(body.acceptId as string);
      break;
    case 'settlement':
      if (Math.random() < ch.ack) send(h, () => h.msgs.ack(now, env));
      break;
    default:
      break;
  }
}

function every(h: Home, wait: () => number, fire: () => void): void {
  const slot = h.timers.length;
  const arm = () => {
    h.timers[slot] = setTimeout(() => {
      if (!traffic) return;
      fire();
      arm();
    }, wait());
  };
  arm();
}

function startTraffic(h: Home): void {
  const r = cfg.rates;
  if (r.offer > 0)
    every(
      h,
      () => poissonWait(r.offer, hourMs),
      () => send(h, () => h.msgs.offer(Date.now())),
    );
  if (r.telemetry > 0) {
    // Windows aligned to the epoch in every home, each closed by the first cycle after its end (up to a
    // tenth of the window later: 1 s at 10 s windows).
    const intervalMs = Math.max(1, Math.round(hourMs / r.telemetry));
    let end = (Math.floor(Date.now() / intervalMs) + 1) * intervalMs;
    const wait = () => Math.max(0, end - Date.now() + Math.random() * (intervalMs / 10));
    every(h, wait, () => {
      send(h, () => h.msgs.telemetry(end - intervalMs, intervalMs));
      end += intervalMs;
    });
  }
  if (r.settlement > 0) {
    every(
      h,
      () => poissonWait(r.settlement / 2, hourMs),
      () => {
        let to = h.partners[Math.floor(Math.random() * h.partners.length)];
        while (to === undefined || to === h.id) to = cfg.homes[Math.floor(Math.random() * cfg.homes.length)];
        send(h, () => h.msgs.settlement(Date.now(), to));
      },
    );
  }
}

function init(c: WorkerInit): void {
  cfg = c;
  hourMs = c.hourS * 1000;
  ch = chances(c.rates, c.homes.length);
  indexOf = new Map(c.homes.map((id, i) => [id, i]));
  let verify: Verify | null = null;
  if (c.sign) {
    const members = new Map(c.homes.map((id) => [id, homeKey(c.zone, id).publicKey]));
    members.set(c.probeHome, homeKey(c.zone, c.probeHome).publicKey);
    verify = createVerifier({ zone: c.zone, members });
  }
  homes = c.mine.map((idx) => {
    const id = c.homes[idx]!;
    const h = {
      idx,
      id,
      sent: KINDS.map(() => 0),
      received: KINDS.map(() => 0),
      duplicates: 0,
      offersSent: 0,
      inboxSent: 0,
      ownSent: 0,
      probed: false,
      lastOfferSeq: new Int32Array(c.homes.length).fill(-1),
      lastInboxSeq: new Map(),
      asked: new Map(),
      partners: [],
      timers: [],
      auditSent: [],
      auditReceived: [],
    } as unknown as Home;
    const setup = {
      id,
      zone: c.zone,
      url: c.url,
      dir: c.dir,
      signer: c.sign ? createSigner(id, homeKey(c.zone, id).privateKey) : null,
      verify,
      onEnvelope: (env: Envelope) => take(h, env),
    };
    h.t = c.mode === 'link' ? linkHome(setup) : rawHome(setup);
    h.msgs = new Messages(id, c.zone, () => h.t.seq());
    return h;
  });
}

function sumRefused(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of homes) for (const [k, n] of Object.entries(h.t.refused())) out[k] = (out[k] ?? 0) + n;
  return out;
}

function progress(): Progress {
  const p: Progress = {
    pending: 0,
    offersSent: 0,
    inboxSent: 0,
    ownSent: 0,
    received: 0,
    duplicates: 0,
    probed: 0,
    connected: 0,
    refused: sumRefused(),
  };
  for (const h of homes) {
    p.pending += h.t.pending();
    p.offersSent += h.offersSent;
    p.inboxSent += h.inboxSent;
    p.ownSent += h.ownSent;
    p.received += h.received.reduce((s, n) => s + n, 0);
    p.duplicates += h.duplicates;
    if (h.probed) p.probed++;
    if (h.t.connected()) p.connected++;
  }
  return p;
}

/** Event-loop delay beyond the sampling period, ms. */
const delay = (ns: number) => round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS));

/** During the traffic (`withLatency`) the RSS is read as it is, else after a full collection. */
function mark(withLatency: boolean): Mark {
  const cpu = process.cpuUsage();
  const m: Mark = {
    cpuS: (cpu.user + cpu.system) / 1e6,
    rssMiB: round(rss(!withLatency) / 2 ** 20, 1),
    loopDelayMs: {
      p50: delay(loop.percentile(50)),
      p99: delay(loop.percentile(99)),
      max: delay(loop.max),
    },
    homes: homes.map((h) => [[...h.sent], [...h.received], h.duplicates]),
  };
  loop.reset();
  if (withLatency) {
    m.latency = {
      offerToTrade: latency.offerToTrade.take(),
      acceptToTrade: latency.acceptToTrade.take(),
      offerDelivery: latency.offerDelivery.take(),
    };
  }
  return m;
}

async function finish(): Promise<Final> {
  traffic = false;
  for (const h of homes) for (const t of h.timers) clearTimeout(t);
  const counters: Record<string, number> = {};
  for (const h of homes)
    for (const [k, n] of Object.entries(h.t.counters())) {
      counters[k] = k === 'peakInFlight' ? Math.max(counters[k] ?? 0, n) : (counters[k] ?? 0) + n;
    }
  const refused = sumRefused();
  await Promise.all(homes.map((h) => h.t.stop()));
  const f: Final = { counters, refused };
  if (cfg.audit) {
    f.sent = homes.map((h) => h.auditSent);
    f.received = homes.map((h) => h.auditReceived);
  }
  return f;
}

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.op) {
    case 'init':
      init(req.init);
      return { rssBaseMiB: round(rssBase / 2 ** 20, 1) };
    case 'progress':
      return progress();
    case 'mark':
      return mark(req.latency);
    case 'traffic':
      traffic = req.on;
      if (req.on) for (const h of homes) startTraffic(h);
      else for (const h of homes) for (const t of h.timers) clearTimeout(t);
      return null;
    case 'finish':
      return finish();
  }
}

process.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (data) => process.send!({ rid: req.rid, data }),
    (err: unknown) => process.send!({ rid: req.rid, error: err instanceof Error ? err.stack : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));

import { round } from './util.js';
import type { AuditResult, Observer } from './zone-audit.js';
import { type BrokerMark, brokerRates } from './zone-broker.js';
import type { Final, Mark, Progress } from './zone-ipc.js';
import type { RunOptions } from './zone-run.js';
import { meanMax, percentiles } from './zone-stats.js';
import { KINDS } from './zone-traffic.js';

/** The figures of one zone run (zone-run.ts) from what its workers and the broker reported. */

export interface Marks {
  broker: BrokerMark;
  workers: Mark[];
  at: number;
}

export interface Collected {
  homesPerWorker: number[];
  base: { rssBaseMiB: number }[];
  idle0: Marks;
  idle1: Marks;
  w0: Marks;
  w1: Marks;
  last: Progress;
  finals: Final[];
  audited: AuditResult | null;
  observer: Observer | null;
  expected: number;
  observed: number;
  /** The machine's 1-minute load average when the window started and ended (others may share it). */
  load1m: number[];
}

export function summarise(o: RunOptions, c: Collected) {
  const compression = 3600 / o.hourS;
  const windowS = (c.w1.at - c.w0.at) / 1000;
  const idleS = (c.idle1.at - c.idle0.at) / 1000;
  const perHome = c.w1.workers.flatMap((m, wi) =>
    m.homes.map((h, j) => {
      const before = c.w0.workers[wi]!.homes[j]!;
      return { sent: h[0].map((n, i) => n - before[0][i]!), received: h[1].map((n, i) => n - before[1][i]!) };
    }),
  );
  const inbound = (kind: number | null) =>
    meanMax(
      perHome.map(
        (h) =>
          (kind === null ? h.received.reduce((s, n) => s + n, 0) : h.received[kind]!) / windowS / compression,
      ),
      4,
    );
  const byType = Object.fromEntries(
    KINDS.flatMap((kind, i) => (kind === 'telemetry' ? [] : [[kind, inbound(i)]])),
  );
  const sentPerHomeHour = Object.fromEntries(
    KINDS.map((kind, i) => [
      kind,
      round(perHome.reduce((s, h) => s + h.sent[i]!, 0) / o.homes / (windowS / o.hourS), 1),
    ]),
  );
  const cpuPct = (a: Marks, b: Marks, wi: number, s: number) =>
    ((b.workers[wi]!.cpuS - a.workers[wi]!.cpuS) / s) * 100;
  let loadedPct = 0;
  let idlePct = 0;
  const workers = c.homesPerWorker.map((homes, wi) => {
    const loaded = cpuPct(c.w0, c.w1, wi, windowS);
    const idle = cpuPct(c.idle0, c.idle1, wi, idleS);
    loadedPct += loaded;
    idlePct += idle;
    const m = c.w1.workers[wi]!;
    return {
      homes,
      cpuPctWall: round(loaded, 1),
      idleCpuPct: round(idle, 1),
      rssBaseMiB: c.base[wi]!.rssBaseMiB,
      rssIdleMiB: c.idle1.workers[wi]!.rssMiB,
      rssMiB: m.rssMiB,
      rssPerHomeKiB: Math.round(((m.rssMiB - c.base[wi]!.rssBaseMiB) * 1024) / homes),
      loopDelayMs: m.loopDelayMs,
    };
  });
  const loadedPerHome = loadedPct / o.homes;
  const idlePerHome = idlePct / o.homes;
  const brokerWindow = brokerRates(c.w0.broker, c.w1.broker, compression);
  const brokerIdle = brokerRates(c.idle0.broker, c.idle1.broker, 1);
  const modelled = (loaded: number | null, idle: number | null) =>
    loaded === null || idle === null ? null : round(idle + Math.max(0, loaded - idle) / compression, 3);
  const lat = (name: 'offerToTrade' | 'acceptToTrade' | 'offerDelivery') =>
    percentiles(c.w1.workers.map((m) => m.latency![name]));
  const counters: Record<string, number> = {};
  const refused: Record<string, number> = {};
  for (const f of c.finals) {
    for (const [k, n] of Object.entries(f.counters)) {
      counters[k] = k === 'peakInFlight' ? Math.max(counters[k] ?? 0, n) : (counters[k] ?? 0) + n;
    }
    for (const [k, n] of Object.entries(f.refused)) refused[k] = (refused[k] ?? 0) + n;
  }
  return {
    mode: o.mode,
    homes: o.homes,
    windowS: round(windowS, 1),
    load1m: c.load1m,
    perHomeInboundPerS: { total: inbound(null), byType },
    sentPerHomeHour,
    broker: {
      ...brokerWindow,
      idleCpuPct: brokerIdle.cpuPctWall,
      cpuPctModelled: modelled(brokerWindow.cpuPctWall, brokerIdle.cpuPctWall),
    },
    latencyMs: {
      offerToTrade: lat('offerToTrade'),
      acceptToTrade: lat('acceptToTrade'),
      offerDelivery: lat('offerDelivery'),
    },
    cpu: {
      perHomePctWall: round(loadedPerHome, 4),
      perHomeIdlePct: round(idlePerHome, 4),
      perHomePctModelled: modelled(loadedPerHome, idlePerHome),
      workers,
    },
    accounting: {
      expected: c.expected,
      received: c.last.received,
      missing: c.expected - c.last.received,
      duplicates: c.last.duplicates,
      pendingAtEnd: c.last.pending,
      ...(c.observer
        ? { observer: { expected: c.observed, received: c.observer.total(), byType: c.observer.byType } }
        : {}),
      refused,
      ...(c.audited ? { audit: c.audited } : {}),
    },
    link: counters,
  };
}

export type ZoneRun = ReturnType<typeof summarise>;

import type { SparseHistogram } from './zone-stats.js';
import type { ZoneRates } from './zone-traffic.js';

/** What the zone benchmark's parent (zone-run.ts) and its workers (zone-worker.ts) say to each other. */

export interface WorkerInit {
  mode: 'link' | 'raw';
  url: string;
  zone: string;
  dir: string;
  /** Every home of the zone, in index order. */
  homes: string[];
  /** The indices of the homes this worker hosts. */
  mine: number[];
  rates: ZoneRates;
  /** Wall seconds of one modelled hour. */
  hourS: number;
  sign: boolean;
  /** Keep every sent and received envelope id for the parent's exact check. */
  audit: boolean;
  /** The home id the parent's readiness probe comes from. */
  probeHome: string;
}

/** Per home: sent and received by kind (in KINDS order), then duplicates seen by the harness. */
export type HomeCounts = [sent: number[], received: number[], duplicates: number];

export interface Progress {
  pending: number;
  offersSent: number;
  inboxSent: number;
  ownSent: number;
  received: number;
  duplicates: number;
  probed: number;
  connected: number;
  refused: Record<string, number>;
}

export interface Mark {
  cpuS: number;
  rssMiB: number;
  loopDelayMs: { p50: number; p99: number; max: number };
  homes: HomeCounts[];
  /** Taken during the traffic: the latencies since the previous mark. */
  latency?: { offerToTrade: SparseHistogram; acceptToTrade: SparseHistogram; offerDelivery: SparseHistogram };
}

export interface Final {
  counters: Record<string, number>;
  refused: Record<string, number>;
  /** Audit: per home, [envelope id, target] of every message sent ('*' every other home, '' nobody). */
  sent?: [string, string][][];
  /** Audit: per home, the envelope id of every message taken, duplicates included. */
  received?: string[][];
}

export type WorkerRequest =
  | { rid: number; op: 'init'; init: WorkerInit }
  | { rid: number; op: 'progress' | 'finish' }
  | { rid: number; op: 'mark'; latency: boolean }
  | { rid: number; op: 'traffic'; on: boolean };

import type { Term } from '../fallback/election.js';
import type { OutboxRow } from '../store/outbox-types.js';
import type { RowRoute } from './drain.js';
import type { BrokerConnection } from './transport.js';

/** The fallback route's contract with the link and the service (fallback-route.ts), and its timing. */

/** What the link reports as its mode (docs/protocol.md "Fallback"). */
export type LinkMode = 'upstream' | 'fallback-leader' | 'fallback-member' | 'offline';

/** The leader's embedded broker as the route drives it (src/fallback/broker.ts, or the simulation's). */
export interface LeaderBroker {
  readonly clients: number;
  retire(): void;
  announce(topic: string, payload: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** What the route needs to know and do beyond the link: the zone's candidates, tokens, the broker. */
export interface FallbackOptions {
  afterMs: number;
  /** This home may lead (config `fallback.host`, and an endpoint of its own in the keyring). */
  mayHost: boolean;
  /** The members that may carry the zone: home id → `HOST:PORT` from the keyring. */
  endpoints: ReadonlyMap<string, string>;
  /** Where the own link reaches the own broker while it leads (loopback, the port of `fallback.listen`). */
  ownUrl: string;
  /** A fresh CONNECT token for this leader and the highest epoch seen. */
  credentials(leader: string, epoch: number): { username: string; password: string };
  termTopic(leader: string): string;
  termFilter: string;
  termPayload(term: Term): Buffer;
  /** A signed, well-formed announcement's term, else null. */
  readTerm(payload: Buffer): Term | null;
  /** Starts this home's broker (loaded only then); `onEpoch`: a member brought the epoch it has seen. */
  startBroker(onEpoch: (epoch: number) => void): Promise<LeaderBroker>;
}

/** What the route does to the link: the drain and the status on a connection, the inbox. */
export interface RouteSide {
  /** Use `conn` (its rows narrowed by `route` on the fallback broker). */
  attach(conn: BrokerConnection, route: RowRoute | null): void;
  /** Leave `conn` cleanly (offline status, in flight settled until the deadline, DISCONNECT) and forget it. */
  leave(conn: BrokerConnection, deadline: number): Promise<void>;
  /** `conn` is gone: forget it. */
  lost(conn: BrokerConnection): void;
  /** `conn` is null for messages that arrive with the CONNACK, before the attempt has resolved. */
  onMessage(conn: BrokerConnection | null, topic: string, payload: Buffer, replayed: boolean): void;
  subscriptions: readonly string[];
  will(): { topic: string; payload: Buffer };
}

export interface RouteStatus {
  mode: LinkMode;
  leader: string | null;
  epoch: number | null;
  /** When the current mode began, epoch ms. */
  since: number;
  /** Terms this home took or leaders it followed. */
  elections: number;
  /** Messages received over the fallback broker. */
  fallbackReceived: number;
}

/** The lease a leader holds its term by; renewed every third of it. */
export const LEASE_MS = 15_000;
/** An upstream broker must answer this long before the zone goes back to it: a flapping one is not used. */
export const RETURN_HOLD_MS = 5_000;
/** After leaving fallback, the leader's broker stays up at most this long for members still on it. */
export const GRACE_MS = 60_000;
/** A fallback connection attempt fails after this: a leader that is gone is given up fast. */
export const FALLBACK_CONNECT_MS = 3_000;
/** Keepalive on the fallback broker: a leader unplugged is noticed within about 1.5 times this. */
export const FALLBACK_KEEPALIVE_S = 2;
/** A member looks for a lower leader (a home back, islands healed) about this often. */
export const CONVERGE_MS = 10_000;
/** A new leader first looks for a lower one after about this long. */
export const FIRST_LOOK_MS = 1_000;
/** Between rounds of an election that found nobody. */
export const RETRY_MS = 2_000;

/**
 * What the fallback broker takes: the trading messages the members read there (inboxes, offers, offer
 * requests). Telemetry and the copies on the `trades` topic are for the back end: they wait in the
 * outbox until an upstream broker acknowledges them, so the fallback broker's PUBACK never deletes them.
 */
export const FALLBACK_ROWS: RowRoute = {
  skipClasses: new Set(['telemetry']),
  holds: (row: OutboxRow) => !/\/(inbox|offer|requests)$/.test(row.topic),
};

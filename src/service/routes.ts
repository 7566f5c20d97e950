import { outboxSummary } from '../control/store-ops.js';
import { requeueDeadLetter, retryRefusal } from '../store/dead-letter-ops.js';
import { OUTBOX_PRIORITY, type OutboxClass } from '../store/outbox-types.js';
import { HttpError, type Route } from '../web/server.js';
import type { SseHub } from '../web/sse.js';
import type { Service } from './service.js';
import type { PageStatus } from './web-page-status.js';
import { readingsSeries } from './web-readings.js';
import { RELAY_MODES, type RelayMode, type RelayOverrides } from './web-relays.js';
import type { TradeBook } from './web-trades.js';

export interface RouteParts {
  service: Service;
  sse: SseHub;
  relays: RelayOverrides;
  trades: TradeBook;
  pageStatus: () => PageStatus;
  metrics: () => Promise<{ text: string; contentType: string }>;
}

const DAY_MS = 86_400_000;

/** The HTTP API (docs/api/openapi.yaml): reads for the page, the CLI, probes and monitoring; token-gated changes. */
export function statusRoutes(p: RouteParts): Route[] {
  const { service } = p;
  const now = () => service.ctx.now();
  return [
    { method: 'GET', path: '/api/status', handle: () => ({ body: p.pageStatus() }) },
    { method: 'GET', path: '/api/devices', handle: () => ({ body: service.status().devices }) },
    {
      method: 'GET',
      path: '/api/readings',
      handle: ({ url }) => {
        const since = url.searchParams.get('since');
        // Without `since`: the newest snapshot (what `powerdeal readings` shows).
        if (since === null)
          return { body: service.cycle.latest() ?? service.store.readings.latest() ?? null };
        const step = url.searchParams.get('step');
        return {
          body: readingsSeries(service.store.readings, parseTime(since, 'since'), now(), {
            cycleMs: service.ctx.config.cycleMs,
            ...(step === null ? {} : { stepS: positiveInt(step, 'step', 86_400) }),
          }),
        };
      },
    },
    {
      method: 'GET',
      path: '/api/outbox',
      handle: ({ url }) => {
        const cls = url.searchParams.get('class');
        if (cls !== null && !(OUTBOX_PRIORITY as readonly string[]).includes(cls))
          throw new HttpError(400, `class must be one of ${OUTBOX_PRIORITY.join(', ')}`);
        const limit = positiveInt(url.searchParams.get('limit') ?? '50', 'limit', 500);
        const store = service.store;
        const rows = store.outbox.list({ limit, ...(cls ? { class: cls as OutboxClass } : {}) });
        return {
          body: {
            stats: store.outbox.stats(now()),
            // Payloads stay out: the table is about what waits, not what it says.
            rows: rows.map(outboxSummary),
            deadLetters: {
              held: store.deadLetters.count(),
              byReason: store.deadLetters.countsByReason(),
              totals: store.deadLetters.totalsByReason(),
            },
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/api/dlq',
      handle: ({ url }) => {
        const limit = positiveInt(url.searchParams.get('limit') ?? '50', 'limit', 500);
        const dir = url.searchParams.get('direction');
        if (dir !== null && dir !== 'in' && dir !== 'out')
          throw new HttpError(400, 'direction must be in or out');
        const list = service.store.deadLetters.list({ limit, ...(dir ? { direction: dir } : {}) });
        return {
          body: list.map((d) => ({
            id: d.id,
            ts: d.ts,
            direction: d.direction,
            reason: d.reason,
            topic: d.topic,
            from: d.from,
            messageId: d.messageId,
            class: d.class,
            payloadBytes: d.payloadBytes,
            retryable: retryRefusal(d) === null,
          })),
        };
      },
    },
    {
      method: 'POST',
      path: '/api/dlq/:id/retry',
      auth: true,
      handle: ({ params }) => {
        const id = positiveInt(params.id ?? '', 'id', Number.MAX_SAFE_INTEGER);
        const r = requeueDeadLetter(service.store, id, now());
        if ('refused' in r)
          throw new HttpError(r.missing ? 404 : 409, r.missing ? `no dead letter ${id}` : r.refused);
        service.link?.notify();
        return { body: { requeued: id, outboxRowId: r.rowId } };
      },
    },
    {
      method: 'POST',
      path: '/api/dlq/purge',
      auth: true,
      handle: ({ body }) => {
        const b = (body ?? {}) as { ids?: unknown; all?: unknown };
        if (b.all === true) return { body: { purged: service.store.deadLetters.purge() } };
        if (!Array.isArray(b.ids) || b.ids.length === 0 || b.ids.length > 1000 || !b.ids.every(isPositiveInt))
          throw new HttpError(400, 'give {"ids": [1, 2, ...]} (at most 1000) or {"all": true}');
        return { body: { purged: service.store.deadLetters.purge(b.ids as number[]) } };
      },
    },
    { method: 'GET', path: '/api/relays', handle: () => ({ body: p.relays.list() }) },
    {
      method: 'POST',
      path: '/api/relays/:id',
      auth: true,
      handle: async ({ params, body }) => {
        const id = params.id ?? '';
        if (!p.relays.has(id)) throw new HttpError(404, `no relay ${id}`);
        const mode = (body as { mode?: unknown } | undefined)?.mode;
        if (typeof mode !== 'string' || !(RELAY_MODES as readonly string[]).includes(mode))
          throw new HttpError(400, `give {"mode": "on" | "off" | "auto"}`);
        try {
          return { body: await p.relays.set(id, mode as RelayMode) };
        } catch (err) {
          throw new HttpError(503, `relay ${id} could not be switched: ${(err as Error).message}`);
        }
      },
    },
    {
      method: 'GET',
      path: '/api/trades',
      handle: ({ url }) => ({ body: p.trades.trades(sinceOrToday(url, now())) }),
    },
    {
      method: 'GET',
      path: '/api/offers',
      handle: ({ url }) => ({ body: p.trades.offers(sinceOrToday(url, now())) }),
    },
    {
      method: 'GET',
      path: '/api/events',
      handle: ({ req, res }) => {
        p.sse.attach(req, res); // answers 503 itself when the cap is reached
        return 'streaming';
      },
    },
    {
      method: 'GET',
      path: '/healthz',
      handle: () => {
        const h = service.health();
        return { status: h.live ? 200 : 503, body: h };
      },
    },
    {
      method: 'GET',
      path: '/readyz',
      handle: () => {
        const h = service.health();
        return { status: h.ready ? 200 : 503, body: h };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handle: async () => {
        const m = await p.metrics();
        return { text: m.text, type: m.contentType };
      },
    },
  ];
}

function sinceOrToday(url: URL, now: number): number {
  const since = url.searchParams.get('since');
  return since === null ? now - DAY_MS : parseTime(since, 'since');
}

/** Epoch milliseconds or an ISO 8601 date-time. */
function parseTime(text: string, name: string): number {
  const n = /^\d{1,15}$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(n))
    throw new HttpError(400, `${name} must be epoch milliseconds or an ISO 8601 date-time`);
  return n;
}

function positiveInt(text: string, name: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !isPositiveInt(n) || n > max)
    throw new HttpError(400, `${name} must be a whole number from 1 to ${max}`);
  return n;
}

function isPositiveInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
}

import { OpError, type OpErrorKind, type OpsContext } from '../control/ops/context.js';
import { listDeadLetters, purgeDeadLetters, retryDeadLetter } from '../control/ops/dead-letters.js';
import { outboxOverview, parseClass } from '../control/ops/outbox.js';
import { listRelays, setRelay } from '../control/ops/relays.js';
import type { WebModuleContext } from './context.js';
import type { TradingGauges } from './metrics.js';
import type { PageStatus } from './page-status.js';
import { readingsSeries } from './readings.js';
import { HttpError, type Route } from './server.js';
import type { SseHub } from './sse.js';

export interface RouteParts {
  ctx: WebModuleContext;
  sse: SseHub;
  pageStatus: () => PageStatus<TradingGauges>;
  metrics: () => Promise<{ text: string; contentType: string }>;
}

const DAY_MS = 86_400_000;

const HTTP_STATUS: Record<OpErrorKind, number> = {
  usage: 400,
  'not-found': 404,
  conflict: 409,
  unavailable: 503,
};

/** Runs an operation (src/control/ops); its refusal becomes the matching HTTP status. */
async function op<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof OpError) throw new HttpError(HTTP_STATUS[err.kind], err.message);
    throw err;
  }
}

/** The HTTP API (docs/api/openapi.yaml): reads for the page, the CLI, probes and monitoring; token-gated changes. */
export function statusRoutes(p: RouteParts): Route[] {
  const { ctx } = p;
  const now = () => ctx.clock.now();
  const ops: OpsContext = { store: ctx.store, now, link: ctx.link };
  return [
    { method: 'GET', path: '/api/status', handle: () => ({ body: p.pageStatus() }) },
    { method: 'GET', path: '/api/devices', handle: () => ({ body: ctx.status().devices }) },
    {
      method: 'GET',
      path: '/api/readings',
      handle: ({ url }) => {
        const since = url.searchParams.get('since');
        // Without `since`: the newest snapshot (what `powerdeal readings` shows).
        if (since === null) return { body: ctx.cycle.latest() ?? ctx.store.readings.latest() ?? null };
        const step = url.searchParams.get('step');
        return {
          body: readingsSeries(ctx.store.readings, parseTime(since, 'since'), now(), {
            cycleMs: ctx.config.cycleMs,
            ...(step === null ? {} : { stepS: positiveInt(step, 'step', 86_400) }),
          }),
        };
      },
    },
    {
      method: 'GET',
      path: '/api/outbox',
      handle: async ({ url }) => {
        const limit = positiveInt(url.searchParams.get('limit') ?? '50', 'limit', 500);
        return {
          body: await op(() =>
            outboxOverview(ops, { class: parseClass(url.searchParams.get('class')), limit }),
          ),
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
        return { body: listDeadLetters(ops, { limit, direction: dir ?? undefined }) };
      },
    },
    {
      method: 'POST',
      path: '/api/dlq/:id/retry',
      auth: true,
      handle: async ({ params }) => {
        const id = positiveInt(params.id ?? '', 'id', Number.MAX_SAFE_INTEGER);
        return { body: await op(() => retryDeadLetter(ops, { id })) };
      },
    },
    {
      method: 'POST',
      path: '/api/dlq/purge',
      auth: true,
      handle: ({ body }) => {
        const b = (body ?? {}) as { ids?: unknown; all?: unknown };
        if (b.all === true) return { body: purgeDeadLetters(ops, {}) };
        if (!Array.isArray(b.ids) || b.ids.length === 0 || b.ids.length > 1000 || !b.ids.every(isPositiveInt))
          throw new HttpError(400, 'give {"ids": [1, 2, ...]} (at most 1000) or {"all": true}');
        return { body: purgeDeadLetters(ops, { ids: b.ids as number[] }) };
      },
    },
    { method: 'GET', path: '/api/relays', handle: () => ({ body: listRelays(ctx.relays) }) },
    {
      method: 'POST',
      path: '/api/relays/:id',
      auth: true,
      handle: async ({ params, body }) => {
        const mode = (body as { mode?: unknown } | undefined)?.mode;
        return { body: await op(() => setRelay(ctx.relays, { id: params.id ?? '', mode })) };
      },
    },
    {
      method: 'GET',
      path: '/api/trades',
      handle: ({ url }) => ({ body: ctx.trades.trades(sinceOrToday(url, now())) }),
    },
    {
      method: 'GET',
      path: '/api/offers',
      handle: ({ url }) => ({ body: ctx.trades.offers(sinceOrToday(url, now())) }),
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
        const h = ctx.health();
        return { status: h.live ? 200 : 503, body: h };
      },
    },
    {
      method: 'GET',
      path: '/readyz',
      handle: () => {
        const h = ctx.health();
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

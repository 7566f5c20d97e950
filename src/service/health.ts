import type { WriteHealth } from '../store/index.js';
import { type TradingStatus, tradingSummary } from '../trading/status.js';
import type { HealthCheck, HealthReport } from '../views/health.js';
import type { DiskState, ServiceStatus } from '../views/status.js';

/** What the health model reads besides the status. All optional: missing parts are not checked. */
export interface HealthInputs {
  /** Worst event-loop lag over the last few seconds, ms. */
  lagMs?: number | null;
  /** Lag at or above this is unhealthy. Default 2000 ms or two cycles, whichever is larger. */
  lagThresholdMs?: number;
  /** The store's view of its commits; null when the store is not open. */
  writes?: WriteHealth | null;
  storeOpen?: boolean;
  disk?: DiskState | null;
  /** Where a corrupt database found at start was moved to. */
  quarantined?: string | null;
}

/** A cycle must have completed (reads, snapshot, every sink) within this long. */
function progressBudgetMs(cycleMs: number): number {
  return Math.max(3 * cycleMs, 3000);
}

export function evaluateHealth(
  status: ServiceStatus<TradingStatus>,
  now: number,
  cycleMs: number,
  inputs: HealthInputs = {},
): HealthReport {
  const checks: HealthCheck[] = [];
  const last = status.cycle?.lastProgressTs ?? null;
  const budget = progressBudgetMs(cycleMs);
  const running = status.cycle?.running === true;
  const firstStart = status.cycle?.lastStartTs ?? null;
  // Right after start the first cycle gets the same budget as any other (and only the first).
  const starting =
    running &&
    last === null &&
    (status.cycle?.cycles ?? 0) <= 1 &&
    (firstStart === null || now - firstStart <= budget);
  const progressing = running && last !== null && now - last <= budget;
  checks.push({
    name: 'cycle',
    ok: progressing || starting,
    detail: !running
      ? 'cycle not running'
      : last === null
        ? starting
          ? 'starting: first cycle under way'
          : `no cycle completed in ${budget} ms`
        : `last progress ${now - last} ms ago (budget ${budget} ms)`,
    severity: 'live',
  });

  if (inputs.lagMs !== undefined) {
    const threshold = inputs.lagThresholdMs ?? Math.max(2000, 2 * cycleMs);
    const lag = inputs.lagMs;
    checks.push({
      name: 'event-loop',
      ok: lag === null || lag < threshold,
      detail: lag === null ? 'not measured yet' : `max lag ${lag} ms (threshold ${threshold} ms)`,
      severity: 'live',
    });
  }

  if (inputs.writes !== undefined || inputs.storeOpen !== undefined) {
    checks.push(storeCheck(inputs.writes ?? null, inputs.storeOpen !== false));
  }

  const failed = status.modules.filter((m) => m.state === 'failed').map((m) => m.name);
  checks.push({
    name: 'modules',
    ok: failed.length === 0,
    detail: failed.length ? `failed: ${failed.join(', ')}` : 'all running',
    severity: 'ready',
  });

  if (inputs.disk) {
    checks.push({
      name: 'disk',
      ok: inputs.disk.alert === null,
      detail:
        inputs.disk.alert ??
        (inputs.disk.freeBytes === null
          ? 'free space unknown'
          : `${Math.round(inputs.disk.freeBytes / 1024 / 1024)} MB free`),
      severity: 'alert',
    });
  }
  if (inputs.quarantined) {
    checks.push({
      name: 'database',
      ok: false,
      detail: `the database was corrupt at start and was moved to ${inputs.quarantined}; a fresh one is in use`,
      severity: 'alert',
    });
  }

  const live = checks.every((c) => c.ok || c.severity !== 'live');
  const ready = live && checks.every((c) => c.ok || c.severity !== 'ready');
  const alerts = checks.filter((c) => !c.ok && c.severity === 'alert').map((c) => `${c.name}: ${c.detail}`);
  const down = checks.filter((c) => !c.ok && c.severity !== 'alert').map((c) => c.name);
  const faults = status.devices.filter((d) => d.state === 'fault').length;
  const parts = [
    `${live ? (ready ? 'ok' : 'degraded') : `FAILING ${down.join(',')}`}`,
    `cycle ${status.cycle?.cycles ?? 0}`,
    `devices ${status.devices.length - faults}/${status.devices.length} ok`,
    `broker ${status.link ? (status.link.connected ? 'up' : 'down') : 'none'}`,
    `outbox ${status.outbox?.rows ?? 0}`,
  ];
  if (status.trading) parts.push(tradingSummary(status.trading));
  if (alerts.length)
    parts.push(
      `ALERT ${checks
        .filter((c) => !c.ok && c.severity === 'alert')
        .map((c) => c.name)
        .join(',')}`,
    );
  return { live, ready, checks, summary: parts.join(', '), alerts };
}

/**
 * The store is writable unless its last commit failed for a reason other than a full disk (a full
 * disk is the disk check's alert: restarting would not free space, and the service keeps running).
 */
function storeCheck(writes: WriteHealth | null, open: boolean): HealthCheck {
  if (!open || writes === null) {
    return { name: 'store', ok: false, detail: 'database not open', severity: 'live' };
  }
  if (writes.failing && !writes.diskFull) {
    return {
      name: 'store',
      ok: false,
      detail: `last commit failed: ${writes.lastErrorCode ?? ''} ${writes.lastError ?? ''}`.trim(),
      severity: 'live',
    };
  }
  return {
    name: 'store',
    ok: true,
    detail: writes.failing ? 'writable except for lack of space' : 'writable',
    severity: 'live',
  };
}

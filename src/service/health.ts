import type { ServiceStatus } from './status.js';

export interface HealthCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * The one health model: `live` feeds the watchdog and /healthz (the process makes progress), `ready`
 * feeds /readyz and READY=1 (every module it needs is running), `summary` feeds STATUS=.
 */
export interface HealthReport {
  live: boolean;
  ready: boolean;
  checks: HealthCheck[];
  summary: string;
}

/** Progress means a cycle completed (reads, snapshot, every sink) within the last few cycle periods. */
export function evaluateHealth(status: ServiceStatus, now: number, cycleMs: number): HealthReport {
  const last = status.cycle?.lastProgressTs ?? null;
  const progressing = status.cycle?.running === true && last !== null && now - last <= 3 * cycleMs;
  const failed = status.modules.filter((m) => m.state === 'failed').map((m) => m.name);
  const checks: HealthCheck[] = [
    {
      name: 'cycle',
      ok: progressing,
      detail: last === null ? 'no cycle completed yet' : `last progress ${now - last} ms ago`,
    },
    {
      name: 'modules',
      ok: failed.length === 0,
      detail: failed.length ? `failed: ${failed.join(', ')}` : 'all running',
    },
  ];
  const faults = status.devices.filter((d) => d.state === 'fault').length;
  const summary = `cycle ${status.cycle?.cycles ?? 0}, devices ${status.devices.length - faults}/${status.devices.length} ok, broker ${status.link ? (status.link.connected ? 'up' : 'down') : 'none'}, outbox ${status.outbox?.rows ?? 0}`;
  return { live: progressing, ready: progressing && failed.length === 0, checks, summary };
}

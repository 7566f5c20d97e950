/**
 * What a failing check costs: `live` — the process makes no progress (no watchdog ping, /healthz 503,
 * systemd restarts it); `ready` — it runs but cannot do all of its job (/readyz 503); `alert` — it does
 * its job but someone should look (logged, shown in STATUS= and the status page).
 */
export type HealthSeverity = 'live' | 'ready' | 'alert';

export interface HealthCheck {
  name: string;
  ok: boolean;
  detail: string;
  severity: HealthSeverity;
}

/**
 * The one health model: `live` feeds the watchdog and /healthz (the process makes progress), `ready`
 * feeds /readyz (every module it needs is running), `summary` feeds STATUS=, `alerts` the page.
 */
export interface HealthReport {
  live: boolean;
  ready: boolean;
  checks: HealthCheck[];
  summary: string;
  /** Failing checks of severity `alert`, one line each. */
  alerts: string[];
}

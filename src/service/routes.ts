import type { Route } from '../web/server.js';
import type { Service } from './service.js';

/** The read-only JSON API the CLI and probes use while the service runs. */
export function statusRoutes(service: Service): Record<string, Route> {
  return {
    '/api/status': () => ({ body: service.status() }),
    '/api/devices': () => ({ body: service.status().devices }),
    '/api/readings': () => ({ body: service.status().snapshot }),
    '/healthz': () => {
      const cycle = service.status().cycle;
      const alive = cycle?.running === true;
      return { status: alive ? 200 : 503, body: { ok: alive } };
    },
    '/readyz': () => {
      const failed = service.status().modules.filter((m) => m.state !== 'running');
      return {
        status: failed.length === 0 ? 200 : 503,
        body: { ok: failed.length === 0, notRunning: failed },
      };
    },
  };
}

import type { Route } from '../web/server.js';
import type { Service } from './service.js';

/** The read-only JSON API the CLI and probes use while the service runs. */
export function statusRoutes(service: Service): Record<string, Route> {
  return {
    '/api/status': () => ({ body: service.status() }),
    '/api/devices': () => ({ body: service.status().devices }),
    '/api/readings': () => ({ body: service.status().snapshot }),
    '/healthz': () => {
      const h = service.health();
      return { status: h.live ? 200 : 503, body: h };
    },
    '/readyz': () => {
      const h = service.health();
      return { status: h.ready ? 200 : 503, body: h };
    },
  };
}

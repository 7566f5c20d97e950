import type { Config } from '../config/schema.js';

/** The running service's local API, as the CLI reaches it (the `web.listen` address). */
export class DaemonClient {
  private readonly base: string;

  constructor(config: Config) {
    const listen = config.web.listen;
    const i = listen.lastIndexOf(':');
    let host = listen.slice(0, i);
    // A service listening on every interface is reached on loopback.
    if (host === '0.0.0.0' || host === '::' || host === '[::]') host = '127.0.0.1';
    this.base = `http://${host}:${listen.slice(i + 1)}`;
  }

  get address(): string {
    return this.base;
  }

  /** GETs a JSON path; undefined when the service does not answer (not running, other port). */
  async get<T>(path: string, timeoutMs = 2000): Promise<T | undefined> {
    try {
      const res = await fetch(`${this.base}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok && res.status !== 503) return undefined;
      return (await res.json()) as T;
    } catch {
      return undefined;
    }
  }
}

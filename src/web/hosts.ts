import { hostname, networkInterfaces } from 'node:os';
import type { Logger } from '../log/logger.js';

/** Distinct refused hosts logged: a scan with random names must not grow the set without end. */
const MAX_LOGGED = 256;

interface HostPort {
  /** Canonical, as a URL has it: lowercase, punycode, IPv6 compressed in brackets; no trailing dot. */
  name: string;
  port: number | null;
}

/** `name[:port]` as in a Host header; null for anything else (a path, userinfo, an invalid address). */
function parseHost(text: string): HostPort | null {
  if (!/^[^\s/?#@\\]+$/.test(text)) return null;
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(text);
  const host = m?.[1] ?? '';
  // A colon left in the host is only an IPv6 address's, in brackets.
  if ((host.includes(':') && !host.startsWith('[')) || !URL.canParse(`http://${host}`)) return null;
  const url = new URL(`http://${host}`);
  return { name: url.hostname.replace(/\.$/, ''), port: m?.[2] === undefined ? null : Number(m[2]) };
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

export interface HostGuardOptions {
  /** The host of `web.listen`. */
  listenHost: string;
  /** The port the server is bound to (known once it listens). */
  port: () => number | undefined;
  /** `web.allowedHosts`: a name without a port is allowed on any (a reverse proxy's). */
  allowedHosts: readonly string[];
  /** The page is served over HTTPS (`web.tls`): a Host without a port then means 443. */
  tls: boolean;
  log: Logger;
}

/**
 * The names the page answers to. A page on the LAN is open to DNS rebinding: a site the user visits
 * points its own name at the Pi's address, and its script then talks to the page as if same-origin. The
 * browser still sends that site's name in Host (and its origin in Origin), so a request naming
 * anything but this machine is refused, whatever its token.
 */
export class HostGuard {
  private readonly own = new Set<string>();
  private readonly extra: HostPort[];
  private readonly logged = new Set<string>();

  constructor(private readonly opts: HostGuardOptions) {
    const listen = opts.listenHost.includes(':') ? `[${opts.listenHost}]` : opts.listenHost;
    for (const name of [
      'localhost',
      '127.0.0.1',
      '[::1]',
      ...(WILDCARD.has(opts.listenHost) ? [] : [listen]),
    ]) {
      const h = parseHost(name);
      if (h) this.own.add(h.name);
    }
    this.extra = opts.allowedHosts.map(parseHost).filter((h): h is HostPort => h !== null);
  }

  /** Null when the Host header names this page; otherwise the plain-text refusal (for a 421). */
  refuseHost(header: string | undefined): string | null {
    if (header === undefined) {
      return this.refuse(
        'host',
        '',
        'refused: the request has no Host header; this page answers only to its own names\n',
      );
    }
    const h = parseHost(header);
    // Without a port, HTTP means 80 and HTTPS 443.
    if (h && this.allows({ name: h.name, port: h.port ?? (this.opts.tls ? 443 : 80) })) return null;
    return this.refuse('host', header, `refused: the Host header "${header}" ${this.remedy(h)}`);
  }

  /**
   * Null when Origin is absent (the CLI, curl: the token is their proof) or one of this page's own
   * origins; otherwise the plain-text refusal (for a 403).
   */
  refuseOrigin(header: string | undefined): string | null {
    if (header === undefined) return null;
    const url = URL.canParse(header) ? new URL(header) : null;
    const web =
      url !== null && (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === header;
    const h = web ? parseHost(url.host) : null;
    const port = h?.port ?? (url?.protocol === 'https:' ? 443 : 80);
    if (h && this.allows({ name: h.name, port })) return null;
    return this.refuse('origin', header, `refused: the Origin header "${header}" ${this.remedy(h)}`);
  }

  private allows(h: { name: string; port: number }): boolean {
    if (this.extra.some((a) => a.name === h.name && (a.port === null || a.port === h.port))) return true;
    if (h.port !== this.opts.port()) return false;
    return this.own.has(h.name) || this.machineNames().has(h.name);
  }

  /**
   * The host name and the interface addresses, read afresh on each miss: a DHCP lease or a renamed
   * host changes them without a restart, and the names the page is usually reached by hit `own` first.
   */
  private machineNames(): Set<string> {
    const host = hostname();
    const short = host.split('.')[0] ?? host;
    const names = [host, short, `${short}.local`];
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) names.push(a.family === 'IPv6' ? `[${a.address}]` : a.address);
    }
    const found = new Set<string>();
    for (const n of names) {
      const h = parseHost(n);
      if (h) found.add(h.name);
    }
    return found;
  }

  private remedy(h: HostPort | null): string {
    if (!h) return 'is not a host name this page answers to\n';
    return `is not a name this page answers to; to allow it, add "${h.name}" to web.allowedHosts in the config\n`;
  }

  /** Logs each refused host once, at warn; returns the refusal. */
  private refuse(header: 'host' | 'origin', value: string, text: string): string {
    const key = `${header} ${value}`;
    if (this.logged.has(key) || this.logged.size > MAX_LOGGED) return text;
    this.logged.add(key);
    if (this.logged.size > MAX_LOGGED) {
      this.opts.log.warn({ header }, 'web: many different hosts refused; no longer logging each');
    } else {
      this.opts.log.warn(
        { header, value },
        'web: refused a request naming a host this page does not answer to (web.allowedHosts adds names)',
      );
    }
    return text;
  }
}

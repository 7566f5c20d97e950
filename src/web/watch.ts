import type { DeviceHealth } from '../devices/device.js';
import type { LinkStatus } from '../link/link.js';
import type { ServiceStatus } from '../views/status.js';

export interface Warning {
  ts: number;
  level: 'warn' | 'info';
  /** What it is about: `link`, `outbox`, `cycle`, a device id, a module name. */
  source: string;
  message: string;
}

export interface WatchOptions {
  status: () => ServiceStatus;
  now: () => number;
  /** A change the page should see: `link`, `outbox`, `devices`, `warning`. */
  emit: (event: string, data: unknown) => void;
  /** Warnings kept for the page (newest first). Default 100. */
  keep?: number;
}

interface Seen {
  link: string | null;
  linkStatus: LinkStatus | null;
  outbox: string | null;
  drops: Record<string, number>;
  deadLetters: number;
  devices: Map<string, DeviceHealth['state']>;
  overruns: number;
  sinkErrors: number;
  failedModules: Set<string>;
}

/**
 * Turns the service's state into change events and plain-language warnings for the page: compares each
 * look at the status with the previous one (the link, the outbox, each device, the cycle, the modules).
 */
export class StatusWatch {
  private seen: Seen | undefined;
  private readonly recent: Warning[] = [];

  constructor(private readonly opts: WatchOptions) {}

  warnings(): Warning[] {
    return [...this.recent];
  }

  check(): void {
    const s = this.opts.status();
    const prev = this.seen;
    const next: Seen = {
      link: s.link ? linkKey(s.link) : null,
      linkStatus: s.link,
      outbox: s.outbox
        ? JSON.stringify([s.outbox.depth, s.outbox.drops, s.outbox.deadLetters, s.outbox.retries])
        : null,
      drops: { ...(s.outbox?.drops ?? {}) },
      deadLetters: s.outbox?.deadLetters ?? 0,
      devices: new Map(s.devices.map((d) => [d.id, d.state])),
      overruns: s.cycle?.overruns ?? 0,
      sinkErrors: s.cycle?.sinkErrors ?? 0,
      failedModules: new Set(s.modules.filter((m) => m.state === 'failed').map((m) => m.name)),
    };
    this.seen = next;
    if (next.link !== (prev?.link ?? null)) {
      this.opts.emit('link', s.link);
      this.linkWarnings(prev?.linkStatus ?? null, s.link);
    }
    if (next.outbox !== (prev?.outbox ?? null)) this.opts.emit('outbox', s.outbox);
    if (prev) {
      for (const [reason, n] of Object.entries(next.drops)) {
        const more = n - (prev.drops[reason] ?? 0);
        if (more > 0) this.warn('outbox', `${more} message(s) dropped unsent (${reason})`);
      }
      const dl = next.deadLetters - prev.deadLetters;
      if (dl > 0) this.warn('outbox', `${dl} message(s) refused by the broker, kept as dead letters`);
      if (next.overruns > prev.overruns)
        this.warn(
          'cycle',
          `${next.overruns - prev.overruns} cycle(s) overran (${s.cycle?.lastDurationMs} ms)`,
        );
      if (next.sinkErrors > prev.sinkErrors)
        this.warn('cycle', `a cycle step failed: ${s.cycle?.lastSinkError ?? 'unknown error'}`);
    }
    let devicesChanged = prev === undefined;
    for (const d of s.devices) {
      const before = prev?.devices.get(d.id);
      if (before === d.state) continue;
      devicesChanged = true;
      if (d.state === 'fault') this.warn(d.id, `device faulted: ${d.lastError ?? 'no answer'}`);
      else if (d.state === 'ok' && before === 'fault') this.info(d.id, 'device answers again');
    }
    if (devicesChanged) this.opts.emit('devices', s.devices);
    for (const m of next.failedModules)
      if (!prev?.failedModules.has(m)) {
        const err = s.modules.find((x) => x.name === m)?.error;
        this.warn(m, `module failed: ${err ?? 'unknown error'}`);
      }
  }

  private linkWarnings(before: LinkStatus | null, now: LinkStatus | null): void {
    if (!now) return;
    if (before?.connected && !now.connected)
      this.warn('link', `broker ${before.broker ?? ''} unreachable: ${now.lastError ?? 'connection lost'}`);
    else if (!before?.connected && now.connected)
      this.info('link', `connected to broker ${now.broker ?? ''}`);
    if (now.mode !== before?.mode && now.leader !== null && now.mode.startsWith('fallback'))
      this.warn(
        'link',
        `no broker: trading through ${now.mode === 'fallback-leader' ? 'this home' : now.leader}'s Pi`,
      );
    if (now.breaker === 'open' && before?.breaker !== 'open')
      this.warn('link', 'publishing paused: too many failures in a row (circuit breaker open)');
  }

  private warn(source: string, message: string): void {
    this.push({ ts: this.opts.now(), level: 'warn', source, message });
  }

  private info(source: string, message: string): void {
    this.push({ ts: this.opts.now(), level: 'info', source, message });
  }

  private push(w: Warning): void {
    this.recent.unshift(w);
    this.recent.length = Math.min(this.recent.length, this.opts.keep ?? 100);
    this.opts.emit('warning', w);
  }
}

function linkKey(l: LinkStatus): string {
  return JSON.stringify([
    l.state,
    l.connected,
    l.mode,
    l.leader,
    l.epoch,
    l.broker,
    l.onPrimary,
    l.breaker,
    l.lastError,
    l.reconnects,
    l.throttled,
  ]);
}

import type { IncomingMessage, ServerResponse } from 'node:http';

export interface SseOptions {
  maxClients: number;
  /** A comment line this often keeps proxies and the page's staleness check happy. */
  heartbeatMs: number;
  /** What the browser waits before reconnecting by itself (`retry:`). */
  retryMs: number;
  /** A client that lets this much pile up unread is dropped (a phone that went to sleep mid-stream). */
  maxBufferedBytes?: number;
  /** The first event each new client gets (the whole current state), so the page renders at once. */
  hello?: () => { event: string; data: unknown };
  /** Data of the periodic `heartbeat` event. */
  heartbeat?: () => unknown;
}

/**
 * Server-sent events to every connected page. An event is serialized once and the same bytes are
 * written to each client; the number of clients is capped (the Pi serves a household, not the public).
 */
export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;

  constructor(private readonly opts: SseOptions) {}

  get size(): number {
    return this.clients.size;
  }

  /** Events written per client so far (for metrics). */
  get eventsSent(): number {
    return this.sent;
  }

  /** Takes over the response; false (and a 503 already sent) when the cap is reached. */
  attach(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.clients.size >= this.opts.maxClients) {
      const body = JSON.stringify({ error: `too many live connections (max ${this.opts.maxClients})` });
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '10' });
      res.end(body);
      return false;
    }
    req.socket.setKeepAlive(true);
    req.socket.setNoDelay(true);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.clients.add(res);
    const drop = () => this.clients.delete(res);
    res.on('close', drop);
    res.on('error', drop);
    let first = `retry: ${this.opts.retryMs}\n\n`;
    const hello = this.opts.hello?.();
    if (hello) first += frame(hello.event, hello.data);
    res.write(first);
    this.ensureTimer();
    return true;
  }

  broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    this.write(frame(event, data));
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private write(text: string): void {
    const max = this.opts.maxBufferedBytes ?? 1 << 20;
    for (const res of this.clients) {
      if (res.writableLength > max) {
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
      this.sent++;
    }
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.clients.size === 0) return;
      this.write(frame('heartbeat', this.opts.heartbeat?.() ?? { ts: Date.now() }));
    }, this.opts.heartbeatMs);
    this.timer.unref();
  }
}

function frame(event: string, data: unknown): string {
  // JSON.stringify never emits a raw newline, so one `data:` line always suffices.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

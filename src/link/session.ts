import type { MqttConfig } from '../config/schema.js';
import { type Clock, sleepOn, type TimerHandle } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { ReconnectBackoff } from './backoff.js';
import { BrokerChoice } from './broker-choice.js';
import type { BrokerConnection, BrokerTransport } from './transport.js';

/** What the rest of the link does when the session gains, loses or leaves a connection. */
export interface SessionHooks {
  /** Connected (and still connected): start using `conn`. */
  up(conn: BrokerConnection): void;
  /** `conn` is gone (lost, or left): forget it. The session ends it right after. */
  down(conn: BrokerConnection): void;
  /** Leaving `conn` cleanly: stop taking work, announce it, wait for what is in flight until the deadline;
   *  true when nothing is left in flight. */
  quiesce(conn: BrokerConnection, deadline: number): Promise<boolean>;
}

export interface SessionOptions {
  clock: Clock;
  log: Logger;
  mqtt: MqttConfig;
  transport: BrokerTransport;
  clientId: string;
  /** Topic filters of the persistent session (subscribed after each connect). */
  subscriptions: readonly string[];
  onMessage: (topic: string, payload: Buffer, replayed: boolean) => void;
  /** The will of the next attempt (built for each, with its own seq). */
  will: () => { topic: string; payload: Buffer };
  noteError: (message: string) => void;
  hooks: SessionHooks;
}

/**
 * The client id of the persistent session on one broker of the list: the configured one on the first,
 * with `-b<index>` on the others. A RabbitMQ cluster keeps a session's queue on the node that made it;
 * while that node is down, no node accepts a session with that client id (not even a clean one), so a
 * home that fails over to another node needs a session of its own there. Independent brokers keep their
 * sessions apart anyway. What was queued on a dead node comes back with the node, and the inbox drops the
 * duplicates.
 */
export function sessionClientId(base: string, brokers: readonly string[], url: string): string {
  const i = brokers.indexOf(url);
  return i <= 0 ? base : `${base}-b${i}`;
}

/**
 * The link's connection to the brokers: the connect loop with its backoff (backoff.ts), the choice of
 * broker and the return to the primary (broker-choice.ts), the persistent session with its will and
 * subscriptions, and leaving a connection cleanly. One connection at a time.
 */
export class Session {
  private running = false;
  private leavingNow = false;
  private connecting = false;
  private current: BrokerConnection | null = null;
  private connects = 0;
  private attemptAbort: AbortController | null = null;
  private probeAbort: AbortController | null = null;
  private sleepAbort: AbortController | null = null;
  private probeTimer: TimerHandle | null = null;
  private readonly choice: BrokerChoice;
  private readonly backoff: ReconnectBackoff;
  private readonly log: Logger;

  constructor(private readonly o: SessionOptions) {
    this.choice = new BrokerChoice(o.mqtt.brokers, o.mqtt.returnToPrimaryMs);
    this.backoff = new ReconnectBackoff(o.mqtt.reconnectBaseMs, o.mqtt.reconnectMaxMs, () =>
      o.clock.random(),
    );
    this.log = o.log;
  }

  get isRunning(): boolean {
    return this.running;
  }

  get leaving(): boolean {
    return this.leavingNow;
  }

  get active(): BrokerConnection | null {
    return this.current;
  }

  /** The broker in use, or the one being tried. */
  get broker(): string | null {
    return this.current?.url ?? (this.running ? this.choice.current : null);
  }

  get onPrimary(): boolean {
    return this.current !== null && this.current.url === this.choice.primary;
  }

  /** Successful connections after the first. */
  get reconnects(): number {
    return Math.max(0, this.connects - 1);
  }

  get nextPrimaryProbeAt(): number | null {
    return this.current ? this.choice.probeDueAt : null;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connectLoop(0);
  }

  /** Stops connecting; leaves the current connection cleanly within the deadline (epoch ms). */
  async stop(deadline: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.attemptAbort?.abort();
    this.probeAbort?.abort();
    this.sleepAbort?.abort();
    this.clearProbe();
    const conn = this.current;
    if (conn) await this.leave(conn, deadline);
  }

  private clearProbe(): void {
    this.o.clock.clearTimer(this.probeTimer);
    this.probeTimer = null;
  }

  /** A pause the stop wakes early. */
  private async sleep(ms: number): Promise<void> {
    const abort = new AbortController();
    this.sleepAbort = abort;
    await sleepOn(this.o.clock, ms, abort.signal);
    if (this.sleepAbort === abort) this.sleepAbort = null;
  }

  private async connectLoop(delayMs: number): Promise<void> {
    if (this.connecting) return;
    this.connecting = true;
    try {
      if (delayMs > 0) await this.sleep(delayMs);
      while (this.running && !this.leavingNow && this.current === null) {
        const url = this.choice.current;
        const abort = new AbortController();
        this.attemptAbort = abort;
        try {
          const conn = await this.o.transport.connect({
            url,
            clientId: sessionClientId(this.o.clientId, this.o.mqtt.brokers, url),
            mqtt: this.o.mqtt,
            persistent: true,
            will: this.o.will(),
            signal: abort.signal,
            onMessage: this.o.onMessage,
          });
          if (!this.running || this.leavingNow) {
            this.drop(conn);
            return;
          }
          this.connected(conn);
          return;
        } catch (err) {
          if (!this.running) return;
          this.o.noteError(`connect ${url}: ${errorText(err)}`);
          this.log.warn({ broker: url, err: errorText(err) }, 'link: connection attempt failed');
          this.choice.failed();
          await this.sleep(this.backoff.next());
        } finally {
          this.attemptAbort = null;
        }
      }
    } finally {
      this.connecting = false;
    }
  }

  private connected(conn: BrokerConnection): void {
    this.current = conn;
    this.connects++;
    this.backoff.reset();
    this.choice.connected(this.o.clock.now());
    this.log.info({ broker: conn.url, protocolVersion: conn.protocolVersion }, 'link: connected');
    conn.onClose(() => this.closed(conn));
    conn.onError((err) => {
      this.o.noteError(err.message);
      this.log.warn({ broker: conn.url, err: err.message }, 'link: MQTT error');
    });
    if (!conn.connected) {
      this.closed(conn);
      return;
    }
    conn.subscribe(this.o.subscriptions).catch((err: unknown) => {
      if (this.current !== conn) return;
      this.o.noteError(`subscribe: ${errorText(err)}`);
      this.log.error({ err: errorText(err) }, 'link: subscribing to the inbox failed');
    });
    this.o.hooks.up(conn);
    this.scheduleProbe();
  }

  private closed(conn: BrokerConnection): void {
    if (this.current !== conn) return;
    this.current = null;
    this.detach(conn);
    this.o.noteError(`connection to ${conn.url} lost`);
    this.log.warn({ broker: conn.url }, 'link: connection lost');
    if (this.running && !this.leavingNow) {
      this.choice.failed();
      void this.connectLoop(this.backoff.next());
    }
  }

  private detach(conn: BrokerConnection): void {
    this.clearProbe();
    this.o.hooks.down(conn);
    this.drop(conn);
  }

  /** Drops a connection at once (the broker publishes the will). */
  private drop(conn: BrokerConnection): void {
    conn.end(true).catch((err: unknown) => {
      // Nothing depends on it: the link has already forgotten the connection.
      this.log.debug({ err: errorText(err) }, 'link: closing a dropped connection failed');
    });
  }

  // ---- return to primary -----------------------------------------------------------------------

  private scheduleProbe(): void {
    const due = this.choice.probeDueAt;
    if (due === null || this.probeTimer) return;
    this.probeTimer = this.o.clock.setTimer(() => void this.probePrimary(), due - this.o.clock.now());
  }

  private async probePrimary(): Promise<void> {
    this.probeTimer = null;
    const conn = this.current;
    if (!conn || !this.running || this.leavingNow) return;
    const abort = new AbortController();
    this.probeAbort = abort;
    try {
      const probe = await this.o.transport.connect({
        url: this.choice.primary,
        clientId: `${this.o.clientId}-probe`,
        mqtt: this.o.mqtt,
        persistent: false,
        signal: abort.signal,
      });
      this.drop(probe);
    } catch (err) {
      if (!this.running) return;
      this.choice.probeFailed(this.o.clock.now());
      this.log.info({ primary: this.choice.primary, err: errorText(err) }, 'link: primary still unreachable');
      if (this.current === conn) this.scheduleProbe();
      return;
    } finally {
      this.probeAbort = null;
    }
    if (this.current !== conn || !this.running || this.leavingNow) return;
    this.log.info(
      { from: conn.url, to: this.choice.primary },
      'link: primary broker is back, returning to it',
    );
    await this.leave(conn, this.o.clock.now() + this.o.mqtt.ackTimeoutMs);
    if (!this.running) return;
    this.choice.switchToPrimary();
    void this.connectLoop(0);
  }

  /** Leaves a connection cleanly: offline status, in-flight settled (or the deadline), DISCONNECT. */
  private async leave(conn: BrokerConnection, deadline: number): Promise<void> {
    this.leavingNow = true;
    try {
      const clean = await this.o.hooks.quiesce(conn, deadline);
      if (this.current !== conn) return;
      this.current = null;
      if (clean) {
        // A normal DISCONNECT: the broker drops the will, the offline status stands.
        const timeout = new AbortController();
        await Promise.race([
          conn.end(false).catch((err: unknown) => {
            // The connection is dropped right below anyway; only the will may then still be published.
            this.log.debug({ err: errorText(err) }, 'link: DISCONNECT failed');
          }),
          sleepOn(this.o.clock, Math.max(100, deadline - this.o.clock.now()), timeout.signal),
        ]);
        timeout.abort();
      }
      this.detach(conn);
    } finally {
      this.leavingNow = false;
    }
  }
}

import { errorText } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import { classifyError, ModbusError } from './errors.js';
import type { RegisterFunction } from './profile-schema.js';
import { type BusAddress, closeClient, frameGapMs, type ModbusClient, openClient } from './transport.js';

export interface BusWorkerOptions {
  log?: Logger;
  /**
   * First reconnect delay after a failed open; doubles per failure up to reconnectMaxMs. The cap stays
   * below the device breakers' so a breaker's probe finds the line ready to be tried again.
   */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /**
   * Quiet time kept after a timeout or a malformed answer before the line is reopened, so a late reply
   * lands in the discarded port and cannot answer the next request (RTU has no transaction id).
   * Default on serial lines and gateways: the failed request's own timeout (as libmodbus recovers),
   * at least two frame gaps; on Modbus TCP 0, as transaction ids already tell replies apart.
   */
  settleMs?: number;
  /** Margin past a request's own timeout after which a call that never settled is abandoned. */
  guardMs?: number;
}

export interface UnitStats {
  requests: number;
  failures: number;
  timeouts: number;
}

export interface BusStats {
  key: string;
  description: string;
  connected: boolean;
  queueDepth: number;
  requests: number;
  failures: number;
  timeouts: number;
  /** Successful opens of the line, the first one included. */
  opens: number;
  openFailures: number;
  lastError: string | null;
  units: Record<number, UnitStats>;
}

interface Job {
  unit: number;
  timeoutMs: number;
  what: string;
  op: (client: ModbusClient) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The only way to talk to one physical bus. modbus-serial has no request queue, so every unit on a
 * serial line, gateway or TCP endpoint goes through one FIFO: exactly one request on the wire at a
 * time, and the next one starts only after the previous call has really settled.
 */
export class BusWorker {
  private readonly queue: Job[] = [];
  private draining: Promise<void> | null = null;
  private client: ModbusClient | null = null;
  /** Set after a timeout or a malformed answer: the line stays quiet until then, then is reopened. */
  private reset: { quietUntil: number } | null = null;
  private closed = false;
  private consecutiveOpenFailures = 0;
  private nextOpenAt = 0;
  private readonly counters = { requests: 0, failures: 0, timeouts: 0, opens: 0, openFailures: 0 };
  private lastError: string | null = null;
  private readonly units = new Map<number, UnitStats>();
  private readonly minQuietMs: number;
  private readonly reconnectBaseMs: number;
  private readonly reconnectMaxMs: number;
  private readonly guardMs: number;

  constructor(
    readonly address: BusAddress,
    private readonly opts: BusWorkerOptions = {},
  ) {
    this.minQuietMs = address.kind === 'rtu' ? 2 * frameGapMs(address.baudRate) : 0;
    this.reconnectBaseMs = opts.reconnectBaseMs ?? 500;
    this.reconnectMaxMs = opts.reconnectMaxMs ?? 5000;
    this.guardMs = opts.guardMs ?? 2000;
  }

  readRegisters(
    unit: number,
    fn: RegisterFunction,
    address: number,
    count: number,
    timeoutMs: number,
  ): Promise<number[]> {
    const what = `unit ${unit} ${fn} ${address}+${count}`;
    return this.enqueue(unit, timeoutMs, what, async (c) => {
      const res =
        fn === 'holding'
          ? await c.readHoldingRegisters(address, count)
          : await c.readInputRegisters(address, count);
      return res.data;
    });
  }

  readBits(
    unit: number,
    fn: 'coils' | 'discrete',
    address: number,
    count: number,
    timeoutMs: number,
  ): Promise<boolean[]> {
    const what = `unit ${unit} ${fn} ${address}+${count}`;
    return this.enqueue(unit, timeoutMs, what, async (c) => {
      const res =
        fn === 'coils' ? await c.readCoils(address, count) : await c.readDiscreteInputs(address, count);
      return res.data.slice(0, count);
    });
  }

  /** Function 16 (write multiple registers): the one SunSpec devices must all support. */
  writeRegisters(unit: number, address: number, values: number[], timeoutMs: number): Promise<void> {
    const what = `unit ${unit} write ${address}+${values.length}`;
    return this.enqueue(unit, timeoutMs, what, async (c) => {
      await c.writeRegisters(address, values);
    });
  }

  stats(): BusStats {
    return {
      key: this.address.key,
      description: this.address.description,
      connected: this.client?.isOpen === true,
      queueDepth: this.queue.length,
      ...this.counters,
      lastError: this.lastError,
      units: Object.fromEntries([...this.units].map(([u, s]) => [u, { ...s }])),
    };
  }

  /** Rejects queued requests, waits for the one on the wire to settle, then closes the line. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      job.reject(new ModbusError('connection', `${job.what}: ${this.address.description} is closed`));
    }
    await this.draining;
    const client = this.client;
    this.client = null;
    if (client) await closeClient(client);
  }

  private enqueue<T>(
    unit: number,
    timeoutMs: number,
    what: string,
    op: (client: ModbusClient) => Promise<T>,
  ): Promise<T> {
    if (this.closed) {
      return Promise.reject(new ModbusError('connection', `${what}: ${this.address.description} is closed`));
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ unit, timeoutMs, what, op, resolve: resolve as (v: unknown) => void, reject });
      this.draining ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
      await this.run(job);
    }
    this.draining = null;
  }

  private unitStats(unit: number): UnitStats {
    let s = this.units.get(unit);
    if (s === undefined) {
      s = { requests: 0, failures: 0, timeouts: 0 };
      this.units.set(unit, s);
    }
    return s;
  }

  private async run(job: Job): Promise<void> {
    const unit = this.unitStats(job.unit);
    try {
      const client = await this.connected(job.timeoutMs);
      this.counters.requests++;
      unit.requests++;
      client.setID(job.unit);
      client.setTimeout(job.timeoutMs);
      job.resolve(await this.settle(job, client));
    } catch (err) {
      const e = classifyError(err, job.what);
      this.counters.failures++;
      unit.failures++;
      if (e.kind === 'timeout') {
        this.counters.timeouts++;
        unit.timeouts++;
      }
      // The line state is unknown after these: a reply may still be coming, or bytes are left over.
      if (e.kind === 'timeout' || e.kind === 'frame')
        this.reset = { quietUntil: Date.now() + this.quietAfter(job.timeoutMs) };
      this.lastError = e.message;
      job.reject(e);
    }
  }

  /**
   * Waits for the modbus-serial call itself. Its own timeout always fires, so the guard only catches
   * a client that lost its callback: that client is dropped (never reused) and the line reopened.
   */
  private async settle(job: Job, client: ModbusClient): Promise<unknown> {
    const call = job.op(client);
    // Its failure reaches the job through the race below; this only keeps a late one from going unhandled.
    call.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (this.client === client) this.client = null;
        // The client is already dropped and the job failed with the reason; a failed close adds nothing.
        closeClient(client).catch(() => undefined);
        reject(new ModbusError('timeout', `${job.what}: no answer and the client never returned`));
      }, job.timeoutMs + this.guardMs);
    });
    try {
      return await Promise.race([call, guard]);
    } finally {
      clearTimeout(timer);
    }
  }

  private quietAfter(timeoutMs: number): number {
    if (this.opts.settleMs !== undefined) return this.opts.settleMs;
    if (this.address.kind === 'tcp') return 0;
    return Math.max(this.minQuietMs, timeoutMs);
  }

  /** The open client, reopening it if needed; rejects at once while a reconnect backoff runs. */
  private async connected(timeoutMs: number): Promise<ModbusClient> {
    if (this.client !== null && (this.reset !== null || !this.client.isOpen)) {
      const old = this.client;
      this.client = null;
      const quiet = this.reset === null ? 0 : this.reset.quietUntil - Date.now();
      if (quiet > 0 && old.isOpen) await sleep(quiet);
      await closeClient(old);
    }
    this.reset = null;
    if (this.client !== null) return this.client;
    const wait = this.nextOpenAt - Date.now();
    if (wait > 0) {
      throw new ModbusError(
        'connection',
        `${this.address.description} is not connected (${this.lastError ?? 'open failed'}); next attempt in ${wait} ms`,
      );
    }
    try {
      this.client = await this.open(timeoutMs);
      this.counters.opens++;
      this.consecutiveOpenFailures = 0;
      this.opts.log?.debug({ bus: this.address.description }, 'modbus bus open');
      return this.client;
    } catch (err) {
      this.counters.openFailures++;
      this.consecutiveOpenFailures++;
      const delay = this.backoff(this.consecutiveOpenFailures);
      this.nextOpenAt = Date.now() + delay;
      const msg = `cannot open ${this.address.description}: ${errorText(err)}`;
      this.opts.log?.warn({ bus: this.address.description, retryInMs: delay }, msg);
      throw new ModbusError('connection', msg);
    }
  }

  private async open(timeoutMs: number): Promise<ModbusClient> {
    const onError = (err: unknown) => {
      this.lastError = errorText(err);
      this.opts.log?.debug({ bus: this.address.description, err: this.lastError }, 'modbus port error');
    };
    const opening = openClient(this.address, timeoutMs, onError);
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`open timed out after ${timeoutMs} ms`)),
        timeoutMs + this.guardMs,
      );
    });
    try {
      return await Promise.race([opening, guard]);
    } catch (err) {
      // A connect that finishes after the guard gave up must not leak its socket or port.
      opening.then(closeClient, () => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Exponential backoff with jitter (50–100 % of the step), capped. */
  private backoff(failures: number): number {
    const step = Math.min(this.reconnectMaxMs, this.reconnectBaseMs * 2 ** (failures - 1));
    return Math.round(step * (0.5 + Math.random() * 0.5));
  }
}

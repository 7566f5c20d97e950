import { connect, type Socket } from 'node:net';
import { readLines } from '../line-reader.js';
import { type ControlErrorKind, type ControlResponse, MAX_LINE_BYTES } from '../protocol.js';

/** The service answered with an error (kind `usage` or `problem`). */
export class ControlCallError extends Error {
  override readonly name = 'ControlCallError';
  constructor(
    message: string,
    readonly kind: ControlErrorKind,
  ) {
    super(message);
  }
}

/** The socket exists but this user may not use it, or the service stopped answering. */
export class ControlUnreachableError extends Error {
  override readonly name = 'ControlUnreachableError';
}

/** Answers larger than a request (outbox listings, SunSpec dumps) are allowed this much. */
const MAX_ANSWER_BYTES = 64 * MAX_LINE_BYTES;

/** One connection to the running service's control socket. */
export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: ControlResponse) => void; reject: (e: Error) => void }
  >();

  private constructor(
    readonly path: string,
    private readonly socket: Socket,
  ) {
    readLines(
      socket,
      MAX_ANSWER_BYTES,
      (line) => {
        let response: ControlResponse;
        try {
          response = JSON.parse(line) as ControlResponse;
        } catch {
          this.failAll(new ControlUnreachableError(`${path}: the service sent an unreadable answer`));
          return;
        }
        const waiter = this.pending.get(response.id);
        this.pending.delete(response.id);
        waiter?.resolve(response);
      },
      () => this.failAll(new ControlUnreachableError(`${path}: answer too large`)),
    );
    socket.on('error', (err) => this.failAll(new ControlUnreachableError(`${path}: ${err.message}`)));
    socket.on('close', () =>
      this.failAll(new ControlUnreachableError(`${path}: the service closed the control connection`)),
    );
  }

  /**
   * Connects to the service at `path`: the client, or undefined when no service runs there (no socket,
   * or a stale one nobody listens on). Throws ControlUnreachableError when one runs but refuses us.
   */
  static async connect(path: string, timeoutMs = 2000): Promise<ControlClient | undefined> {
    const socket = await new Promise<Socket | undefined>((resolve, reject) => {
      const s = connect(path);
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          new ControlUnreachableError(
            `${path}: the service did not accept the connection in ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
        else if (err.code === 'EACCES' || err.code === 'EPERM') {
          reject(
            new ControlUnreachableError(
              `${path}: permission denied. Run as root or as a member of the service's group (sudo usermod -aG powerdeal $USER, then log in again)`,
            ),
          );
        } else reject(new ControlUnreachableError(`${path}: ${err.message}`));
      });
    });
    return socket ? new ControlClient(path, socket) : undefined;
  }

  /** Calls a method; rejects with ControlCallError for the service's errors. */
  async call<T>(method: string, params: unknown = {}, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    const response = await new Promise<ControlResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ControlUnreachableError(`${this.path}: no answer to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
    if (!response.ok) throw new ControlCallError(response.error.message, response.error.kind);
    return response.result as T;
  }

  close(): void {
    this.socket.destroy();
  }

  private failAll(err: Error): void {
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiters) w.reject(err);
  }
}

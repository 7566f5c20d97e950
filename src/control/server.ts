import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { errorText } from '../core/errors.js';
import { listenOn } from '../core/listen.js';
import type { Logger } from '../log/logger.js';
import { readLines } from './line-reader.js';
import { ControlError, type ControlRequest, type ControlResponse, MAX_LINE_BYTES } from './protocol.js';

export type ControlHandler = (params: unknown) => Promise<unknown>;

/** Owner and group may connect; the unit puts technicians in the service's group. */
const SOCKET_MODE = 0o660;

/**
 * Serves control requests on a unix socket. Requests on one connection are answered in order; a bad
 * request gets an error answer, never a crash. A stale socket file left by a killed service is
 * replaced; a live one (another service instance) makes start() fail.
 */
export class ControlServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly path: string,
    private readonly handlers: Readonly<Record<string, ControlHandler>>,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    if (await answers(this.path)) {
      throw new Error(`${this.path}: another powerdeal service already answers on this control socket`);
    }
    rmSync(this.path, { force: true });
    const server = createServer((socket) => this.serve(socket));
    await listenOn(server, { path: this.path });
    chmodSync(this.path, SOCKET_MODE);
    server.on('error', (err) => this.log.error({ err }, 'control socket error'));
    this.server = server;
    this.log.info({ socket: this.path }, 'control channel listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // Answers go out in request order even when a later request finishes first.
    let queue = Promise.resolve();
    readLines(
      socket,
      MAX_LINE_BYTES,
      (line) => {
        queue = queue.then(async () => {
          const response = await this.answer(line);
          if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
        });
      },
      () => {
        socket.end(
          `${JSON.stringify({ id: 0, ok: false, error: { kind: 'usage', message: 'request too long' } })}\n`,
        );
      },
    );
  }

  private async answer(line: string): Promise<ControlResponse> {
    let request: ControlRequest;
    try {
      request = JSON.parse(line) as ControlRequest;
      if (typeof request?.method !== 'string' || typeof request.id !== 'number') throw new Error('shape');
    } catch {
      return { id: 0, ok: false, error: { kind: 'usage', message: 'a request is {"id":N,"method":"…"}' } };
    }
    const handler = Object.hasOwn(this.handlers, request.method) ? this.handlers[request.method] : undefined;
    if (!handler) {
      return {
        id: request.id,
        ok: false,
        error: { kind: 'usage', message: `unknown control method "${request.method}"` },
      };
    }
    try {
      return { id: request.id, ok: true, result: (await handler(request.params ?? {})) ?? null };
    } catch (err) {
      const message = errorText(err);
      if (!(err instanceof ControlError)) {
        this.log.debug({ err, method: request.method }, 'control request failed');
      }
      return {
        id: request.id,
        ok: false,
        error: { kind: err instanceof ControlError ? err.kind : 'problem', message },
      };
    }
  }
}

/** Whether something accepts connections on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

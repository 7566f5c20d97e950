import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { listenOn } from '../core/listen.js';
import type { Logger } from '../log/logger.js';
import type { TokenGate } from './auth.js';
import { HostGuard } from './hosts.js';
import type { StaticFile } from './static.js';

export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** `:name` segments of the route's path. */
  params: Record<string, string>;
  /** Parsed JSON body of a POST (undefined when empty). */
  body: unknown;
}

/**
 * What a route answers: JSON (`body`), text with its content type (`text`), `'streaming'` when it took
 * over the response itself (server-sent events), or undefined for 404.
 */
export type RouteResult =
  | { status?: number; body: unknown }
  | { status?: number; text: string; type: string }
  | 'streaming'
  | undefined;

export interface Route {
  method: 'GET' | 'POST';
  /** Exact path, or segments with `:name` placeholders, e.g. `/api/relays/:id`. */
  path: string;
  /** Changes state: needs the bearer token, always (also from loopback). */
  auth?: boolean;
  handle(r: RouteRequest): RouteResult | Promise<RouteResult>;
}

/** A refusal a route can throw: the status and message go to the client as JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface WebContext {
  listen: string;
  /** `web.allowedHosts`: names the page answers to besides its own. */
  allowedHosts: readonly string[];
  /** `web.tls`, read: the page is then served over HTTPS only. */
  tls?: { cert: Buffer; key: Buffer };
  log: Logger;
  routes: readonly Route[];
  tokens: TokenGate;
  maxBodyBytes: number;
  staticFiles?: ReadonlyMap<string, StaticFile>;
}

/** The page may load only from the daemon itself (no CDN, no inline script). */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

/** Methods that change nothing; every other one must come from this page if it names an origin. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface Compiled {
  route: Route;
  segments: string[];
}

/**
 * The local HTTP surface: the status page, the JSON API, probes, metrics and the live event stream.
 * Listens where `web.listen` says (loopback by default), over HTTPS when `web.tls` is set. A request
 * whose Host is not one of the page's names is refused first (hosts.ts). Reads are open; every state change needs the bearer token from
 * `web.tokenFile`, and is refused outright when there is no such file, or when it names an Origin other
 * than the page's own.
 */
export class WebServer {
  private server: ReturnType<typeof createServer> | ReturnType<typeof createTlsServer> | undefined;
  private boundPort: number | undefined;
  private readonly compiled: Compiled[];
  private readonly hosts: HostGuard;

  constructor(private readonly ctx: WebContext) {
    this.compiled = ctx.routes.map((route) => ({ route, segments: route.path.split('/') }));
    this.hosts = new HostGuard({
      listenHost: splitHostPort(ctx.listen)[0],
      port: () => this.boundPort,
      allowedHosts: ctx.allowedHosts,
      tls: ctx.tls !== undefined,
      log: ctx.log,
    });
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const [host, port] = splitHostPort(this.ctx.listen);
    const onRequest = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const { tls } = this.ctx;
    const server = tls
      ? // A handshake gets as long as the headers do (node's default is 2 minutes).
        createTlsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: 5_000 }, onRequest)
      : createServer(onRequest);
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.maxHeadersCount = 50;
    await listenOn(server, { port, host });
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : port;
    this.server = server;
    this.ctx.log.info(
      {
        listen: `${host}:${this.boundPort}`,
        tls: tls !== undefined,
        stateChanges: this.ctx.tokens.enabled(),
      },
      'web listening',
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const misdirected = this.hosts.refuseHost(req.headers.host);
    if (misdirected !== null) return sendText(res, 421, misdirected, PLAIN);
    if (!SAFE_METHODS.has(req.method ?? '')) {
      const foreign = this.hosts.refuseOrigin(req.headers.origin);
      if (foreign !== null) return sendText(res, 403, foreign, PLAIN);
    }
    try {
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const file = method === 'GET' ? this.ctx.staticFiles?.get(url.pathname) : undefined;
      if (file) return sendFile(req, res, file);
      const matches = this.compiled
        .map((c) => ({ c, params: match(c.segments, url.pathname) }))
        .filter((m) => m.params !== null);
      if (matches.length === 0) throw new HttpError(404, `no such path: ${url.pathname}`);
      const found = matches.find((m) => m.c.route.method === method);
      if (!found) {
        res.setHeader('allow', [...new Set(matches.map((m) => m.c.route.method))].join(', '));
        throw new HttpError(405, `${req.method} is not served on ${url.pathname}`);
      }
      const { route } = found.c;
      if (route.auth) this.authorize(req);
      const body = method === 'POST' ? await readJsonBody(req, this.ctx.maxBodyBytes) : undefined;
      const result = await route.handle({ req, res, url, params: found.params ?? {}, body });
      if (result === 'streaming') return;
      if (result === undefined) throw new HttpError(404, `nothing at ${url.pathname}`);
      if ('text' in result) return sendText(res, result.status ?? 200, result.text, result.type);
      sendJson(res, result.status ?? 200, result.body);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        if (err.status === 401) res.setHeader('www-authenticate', 'Bearer realm="powerdeal"');
        return sendJson(res, err.status, { error: err.message });
      }
      this.ctx.log.error({ err, path: url.pathname }, 'web route failed');
      sendJson(res, 500, { error: 'internal error' });
    }
  }

  private authorize(req: IncomingMessage): void {
    const verdict = this.ctx.tokens.check(req.headers.authorization);
    if (verdict === 'ok') return;
    this.ctx.log.warn({ verdict, remote: req.socket.remoteAddress, path: req.url }, 'state change refused');
    if (verdict === 'disabled') {
      throw new HttpError(403, 'state changes are disabled: no token file (web.tokenFile) on this home');
    }
    throw new HttpError(401, verdict === 'missing' ? 'a bearer token is required' : 'wrong token');
  }
}

function match(segments: string[], pathname: string): Record<string, string> | null {
  const parts = pathname.split('/');
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const want = segments[i] as string;
    const got = parts[i] as string;
    if (want.startsWith(':')) {
      if (got === '') return null;
      params[want.slice(1)] = decodeURIComponent(got);
    } else if (want !== got) return null;
  }
  return params;
}

/** Reads at most `max` bytes; more (declared or sent) is a 413 before anything is parsed. */
async function readJsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) {
    req.resume();
    throw new HttpError(413, `request body over ${max} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      req.destroy();
      throw new HttpError(413, `request body over ${max} bytes`);
    }
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
}

const PLAIN = 'text/plain; charset=utf-8';

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8');
}

function sendText(res: ServerResponse, status: number, text: string, type: string): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: StaticFile): void {
  const headers: Record<string, string | number> = {
    ...SECURITY_HEADERS,
    'content-type': file.type,
    etag: file.etag,
    // Revalidated on every load (a cheap 304); a new version of the daemon is then seen at once.
    'cache-control': 'no-cache',
    vary: 'accept-encoding',
  };
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = file.gzip !== null && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip && file.gzip ? file.gzip : file.body;
  if (gzip) headers['content-encoding'] = 'gzip';
  headers['content-length'] = body.length;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function splitHostPort(listen: string): [string, number] {
  const i = listen.lastIndexOf(':');
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), Number(listen.slice(i + 1))];
}

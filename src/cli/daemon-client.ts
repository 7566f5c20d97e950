import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { Config } from '../config/schema.js';

/**
 * The running service's local API, as the CLI reaches it (the `web.listen` address). Over HTTPS
 * (`web.tls`) it trusts exactly the configured certificate: the one the service serves, whatever names
 * it holds (a certificate for the Pi's name need not list the loopback address the CLI dials).
 */
export class DaemonClient {
  private readonly base: string;
  private readonly tls: RequestOptions | undefined;

  constructor(config: Config) {
    const listen = config.web.listen;
    const i = listen.lastIndexOf(':');
    let host = listen.slice(0, i);
    // A service listening on every interface is reached on loopback.
    if (host === '0.0.0.0' || host === '::' || host === '[::]') host = '127.0.0.1';
    this.base = `${config.web.tls ? 'https' : 'http'}://${host}:${listen.slice(i + 1)}`;
    this.tls = config.web.tls && pinned(config.web.tls.certFile);
  }

  get address(): string {
    return this.base;
  }

  /** GETs a JSON path; undefined when the service does not answer (not running, other port). */
  async get<T>(path: string, timeoutMs = 2000): Promise<T | undefined> {
    try {
      const res = await this.request(path, timeoutMs);
      const chunks: Buffer[] = [];
      for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
      const status = res.statusCode ?? 0;
      if ((status < 200 || status > 299) && status !== 503) return undefined;
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }

  private request(path: string, timeoutMs: number): Promise<IncomingMessage> {
    const url = new URL(path, this.base);
    return new Promise((resolve, reject) => {
      const options = { signal: AbortSignal.timeout(timeoutMs), ...this.tls };
      const req = this.tls ? httpsRequest(url, options, resolve) : httpRequest(url, options, resolve);
      req.on('error', reject);
      req.end();
    });
  }
}

/**
 * TLS options that accept only the certificate in `certFile` (its first, the server's own): the file is
 * the trust anchor, and the peer must present that very certificate. An unreadable file trusts nothing.
 */
function pinned(certFile: string): RequestOptions {
  let ca: string;
  let fingerprint: string;
  try {
    ca = readFileSync(certFile, 'utf8');
    fingerprint = new X509Certificate(ca).fingerprint256;
  } catch {
    return { checkServerIdentity: () => new Error(`cannot read ${certFile}`) };
  }
  return {
    ca,
    // The configured certificate may be issued by a CA that is not in the file.
    allowPartialTrustChain: true,
    checkServerIdentity: (_host, peer) =>
      peer.fingerprint256 === fingerprint ? undefined : new Error(`not the certificate in ${certFile}`),
  };
}

import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { listenOn } from '../core/listen.js';
import type { Logger } from '../log/logger.js';
import { TokenGate, type TokenRefusal } from '../protocol/fallback-token.js';
import type { Keyring } from '../protocol/keyring.js';
import { zoneAccess } from './access.js';

/**
 * The leader's embedded MQTT broker (aedes, MQTT 3.1.1) that carries the zone while no upstream broker
 * can be reached. It lets in only zone members with a fresh CONNECT token (fallback-token.ts) and holds
 * them to the upstream access rules (access.ts). Loaded only when this home leads, so a member's process
 * never holds aedes.
 */
export interface FallbackBrokerOptions {
  host: string;
  port: number;
  keyring: Keyring;
  /** This home: the leader the tokens must name. */
  self: string;
  now: () => number;
  log: Logger;
  /** A member's token carried an epoch (the highest it has seen). */
  onEpoch?: (epoch: number) => void;
}

export type Refusal = TokenRefusal | 'client-id' | 'publish' | 'subscribe';

export interface FallbackBroker {
  readonly url: string;
  readonly port: number;
  /** Members connected now. */
  readonly clients: number;
  /** Messages members published through it. */
  readonly published: number;
  readonly refused: Readonly<Record<Refusal, number>>;
  /**
   * No new members from now on (this home no longer leads): those connected stay until they leave, so
   * none is stranded, and no member probing for the leader mistakes this broker for it.
   */
  retire(): void;
  /** Publishes a retained message from the broker itself (the term announcement). */
  announce(topic: string, payload: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** A client that has not sent its CONNECT by then is dropped (garbage, a port scan). */
const CONNECT_TIMEOUT_MS = 5000;
/** Connections at once: a zone is tens of homes; more is somebody flooding the port. */
const MAX_CONNECTIONS = 256;

function authError(returnCode: 3 | 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export async function startFallbackBroker(o: FallbackBrokerOptions): Promise<FallbackBroker> {
  const log = o.log.child({ module: 'fallback-broker' });
  const gate = new TokenGate(o.keyring, o.self, o.now);
  const access = zoneAccess(o.keyring);
  /** Who each authenticated connection is. */
  const homes = new WeakMap<Client, string>();
  const refused: Record<Refusal, number> = {
    malformed: 0,
    'not-a-member': 0,
    'bad-signature': 0,
    'wrong-zone': 0,
    'wrong-leader': 0,
    expired: 0,
    replayed: 0,
    'client-id': 0,
    publish: 0,
    subscribe: 0,
  };
  const refuse = (why: Refusal, detail: Record<string, unknown>) => {
    refused[why]++;
    log.warn({ ...detail, refused: why }, 'fallback broker: refused');
  };
  let published = 0;
  let retired = false;

  const broker = await Aedes.createBroker({
    connectTimeout: CONNECT_TIMEOUT_MS,
    authenticate(client, username, password, done) {
      if (retired) {
        done(authError(3, 'this home no longer leads the zone'), false);
        return;
      }
      const check = gate.check(username, password);
      if (!check.ok) {
        refuse(check.reason, { user: username?.slice(0, 64) });
        done(authError(check.reason === 'malformed' ? 4 : 5, check.reason), false);
        return;
      }
      if (!access.ownsClientId(check.claims.home, client.id)) {
        refuse('client-id', { home: check.claims.home, clientId: client.id.slice(0, 64) });
        done(authError(5, 'client id of another home'), false);
        return;
      }
      homes.set(client, check.claims.home);
      o.onEpoch?.(check.claims.epoch);
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      // client null: the broker's own announcement.
      const home = client ? homes.get(client) : undefined;
      if (client && (home === undefined || !access.mayPublish(home, packet.topic))) {
        refuse('publish', { home, topic: packet.topic.slice(0, 200) });
        done(new Error('not allowed to publish there'));
        return;
      }
      if (client) published++;
      done(null);
    },
    authorizeSubscribe(client, sub, done) {
      const home = homes.get(client);
      if (home === undefined || !access.maySubscribe(home, sub.topic)) {
        refuse('subscribe', { home, filter: sub.topic.slice(0, 200) });
        done(null, null);
        return;
      }
      done(null, sub);
    },
  });
  broker.on('clientError', (client, err) => {
    log.debug({ clientId: client.id, err: err.message }, 'fallback broker: client error');
  });
  broker.on('connectionError', (_client, err) => {
    log.debug({ err: err.message }, 'fallback broker: connection error');
  });

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A reset or a protocol error on one connection is that connection's end, not the leader's.
    socket.on('error', () => socket.destroy());
    broker.handle(socket);
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.on('error', (err) => log.error({ err: err.message }, 'fallback broker: server error'));
  await listenOn(server, { port: o.port, host: o.host });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const urlHost = o.host.includes(':') ? `[${o.host}]` : o.host;
  log.info({ listen: `${o.host}:${port}` }, 'fallback broker: listening');

  return {
    url: `mqtt://${urlHost}:${port}`,
    port,
    get clients() {
      return broker.connectedClients;
    },
    get published() {
      return published;
    },
    refused,
    retire() {
      retired = true;
    },
    announce: (topic, payload) =>
      new Promise<void>((resolve, reject) => {
        broker.publish({ cmd: 'publish', topic, payload, qos: 1, retain: true, dup: false }, (err?: Error) =>
          err ? reject(err) : resolve(),
        );
      }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      log.info('fallback broker: stopped');
    },
  };
}

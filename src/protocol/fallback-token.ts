import { canonicalJson } from './canonical.js';
import type { Keyring } from './keyring-file.js';
import { type Signer, verifyTagged } from './signing.js';

/**
 * The CONNECT token of the fallback broker (docs/protocol.md "Fallback"): a member proves it is one by
 * signing who it is, which leader it means and when, with its Ed25519 key. The MQTT username is the home
 * id, the password the token: `<base64url canonical JSON of the claims>.<base64url signature>`. A token
 * lives TOKEN_TTL_MS and is taken once: the link makes a new one for each connection attempt.
 */
export interface ConnectClaims {
  home: string;
  zone: string;
  /** The home whose broker this token is for: a token cannot be replayed to another leader. */
  leader: string;
  /** The highest epoch the member has seen: the leader learns of terms taken elsewhere. */
  epoch: number;
  /** Epoch ms when the token was made. */
  ts: number;
  /** Random: two tokens made in the same millisecond differ. */
  nonce: string;
}

const TAG = 'fallback-connect';
/** How long a token is accepted after (and, for clock skew, before) its `ts`. */
export const TOKEN_TTL_MS = 30_000;
/** Longer passwords are refused before any parsing. */
const MAX_TOKEN_CHARS = 1024;

export function connectToken(signer: Signer, claims: ConnectClaims): string {
  if (claims.home !== signer.homeId)
    throw new Error(`signer of ${signer.homeId} asked to sign for ${claims.home}`);
  const bytes = Buffer.from(canonicalJson(claims), 'utf8');
  return `${bytes.toString('base64url')}.${signer.signTagged(TAG, bytes)}`;
}

export type TokenRefusal =
  | 'malformed'
  | 'not-a-member'
  | 'bad-signature'
  | 'wrong-zone'
  | 'wrong-leader'
  | 'expired'
  | 'replayed';

export type TokenCheck = { ok: true; claims: ConnectClaims } | { ok: false; reason: TokenRefusal };

function parseClaims(text: string): ConnectClaims | null {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const c = raw as Record<string, unknown>;
  const strings = ['home', 'zone', 'leader', 'nonce'].every((k) => typeof c[k] === 'string');
  const ints = ['epoch', 'ts'].every((k) => Number.isSafeInteger(c[k]) && (c[k] as number) >= 0);
  if (!strings || !ints || Object.keys(c).length !== 6) return null;
  return c as unknown as ConnectClaims;
}

/**
 * The leader's side: checks a CONNECT's username and token against the keyring, this leader and the
 * time, and remembers the tokens it took until they expire, so none is taken twice.
 */
export class TokenGate {
  /** nonce+home → when its token expires. */
  private readonly taken = new Map<string, number>();

  constructor(
    private readonly keyring: Keyring,
    private readonly leader: string,
    private readonly now: () => number,
  ) {}

  check(username: string | undefined, password: Buffer | undefined): TokenCheck {
    if (username === undefined || password === undefined || password.length > MAX_TOKEN_CHARS) {
      return { ok: false, reason: 'malformed' };
    }
    const [body, sig, ...rest] = password.toString('utf8').split('.');
    const claims = body && sig && rest.length === 0 ? parseClaims(body) : null;
    if (!claims || claims.home !== username) return { ok: false, reason: 'malformed' };
    if (!this.keyring.members.has(claims.home)) return { ok: false, reason: 'not-a-member' };
    const bytes = Buffer.from(body!, 'base64url');
    if (!verifyTagged(this.keyring, claims.home, TAG, bytes, Buffer.from(sig!, 'base64url'))) {
      return { ok: false, reason: 'bad-signature' };
    }
    if (claims.zone !== this.keyring.zone) return { ok: false, reason: 'wrong-zone' };
    if (claims.leader !== this.leader) return { ok: false, reason: 'wrong-leader' };
    const t = this.now();
    if (Math.abs(t - claims.ts) > TOKEN_TTL_MS) return { ok: false, reason: 'expired' };
    this.prune(t);
    const key = `${claims.home}/${claims.nonce}`;
    if (this.taken.has(key)) return { ok: false, reason: 'replayed' };
    this.taken.set(key, claims.ts + TOKEN_TTL_MS);
    return { ok: true, claims };
  }

  private prune(t: number): void {
    for (const [key, until] of this.taken) if (until < t) this.taken.delete(key);
  }
}

import { canonicalJson } from './canonical.js';
import type { Keyring } from './keyring-file.js';
import { type Signer, verifyTagged } from './signing.js';

/**
 * The leader's term announcement on the fallback broker (docs/protocol.md "Fallback"): who leads, for
 * which epoch, until when (the lease), signed with the leader's key so a member cannot announce a term.
 * JSON `{ zone, leader, epoch, until, ts, sig }`, retained, renewed before the lease runs out.
 */
export interface TermClaims {
  zone: string;
  leader: string;
  epoch: number;
  /** The lease, epoch ms. */
  until: number;
  ts: number;
}

const TAG = 'fallback-term';
const MAX_TERM_BYTES = 1024;

export function termPayload(signer: Signer, claims: TermClaims): Buffer {
  if (claims.leader !== signer.homeId)
    throw new Error(`signer of ${signer.homeId} asked to sign for ${claims.leader}`);
  const bytes = Buffer.from(canonicalJson(claims), 'utf8');
  return Buffer.from(canonicalJson({ ...claims, sig: signer.signTagged(TAG, bytes) }), 'utf8');
}

/** The announcement's claims when it is well formed, of this zone and signed by its leader; else null. */
export function readTerm(keyring: Keyring, payload: Buffer): TermClaims | null {
  if (payload.length > MAX_TERM_BYTES) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const { sig, ...rest } = raw as Record<string, unknown>;
  const c = rest as Partial<TermClaims>;
  const ints = [c.epoch, c.until, c.ts].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
  if (typeof sig !== 'string' || typeof c.leader !== 'string' || c.zone !== keyring.zone || !ints)
    return null;
  if (Object.keys(rest).length !== 5) return null;
  const bytes = Buffer.from(canonicalJson(rest), 'utf8');
  return verifyTagged(keyring, c.leader, TAG, bytes, Buffer.from(sig, 'base64url'))
    ? (rest as unknown as TermClaims)
    : null;
}

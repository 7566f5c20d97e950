import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Shorter tokens are refused: the token is the only thing between the LAN and the relays. */
const MIN_TOKEN_CHARS = 32;

export type TokenVerdict = 'ok' | 'missing' | 'invalid' | 'disabled';

export interface TokenGate {
  /** Checks an `Authorization` header against the token file. */
  check(authorization: string | undefined): TokenVerdict;
  /** Whether a usable token file exists (state changes are possible at all). */
  enabled(): boolean;
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * The bearer token for state-changing requests, read from `web.tokenFile` on every check so a token
 * rotated at install time or by hand takes effect without a restart (checks are rare: a few per day).
 * Both sides are hashed first, so the constant-time comparison always sees equal lengths and the
 * token's length does not leak either.
 */
export function createTokenGate(tokenFile: string): TokenGate {
  const load = (): Buffer | null => {
    let text: string;
    try {
      text = readFileSync(tokenFile, 'utf8').trim();
    } catch {
      return null;
    }
    return text.length >= MIN_TOKEN_CHARS ? digest(text) : null;
  };
  return {
    enabled: () => load() !== null,
    check(authorization) {
      const expected = load();
      if (expected === null) return 'disabled';
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      if (!m?.[1]) return 'missing';
      return timingSafeEqual(digest(m[1]), expected) ? 'ok' : 'invalid';
    },
  };
}

import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { KeyError } from './key-error.js';

/**
 * Key material as text: `ed25519:` + the raw 32-byte public key in base64url, one line that fits in a
 * keyring (docs/keys.md).
 */

const KEY_TEXT = /^ed25519:([A-Za-z0-9_-]{43})$/;
const KEY_TEXT_HINT = '"ed25519:" + 43 base64url characters';
export const SHOW_FIX = 'copy the line printed by "powerdeal keys show" on that home';

export function generateHomeKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

export function publicKeyText(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') {
    throw new KeyError(`a ${pub.asymmetricKeyType ?? pub.type} key is not an Ed25519 key`);
  }
  return `ed25519:${pub.export({ format: 'jwk' }).x}`;
}

/** The public key, or why the text is not one. */
export function decodeKeyText(text: unknown): KeyObject | string {
  const x = typeof text === 'string' ? KEY_TEXT.exec(text)?.[1] : undefined;
  // 43 characters carry 258 bits: the last 2 must be zero, so each key has exactly one text.
  if (x === undefined || Buffer.from(x, 'base64url').toString('base64url') !== x) {
    return `not an Ed25519 public key (${KEY_TEXT_HINT})`;
  }
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
}

export function parsePublicKeyText(text: string): KeyObject {
  const key = decodeKeyText(text);
  if (typeof key === 'string') {
    const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
    throw new KeyError(`${JSON.stringify(shown)}: ${key}; ${SHOW_FIX}`);
  }
  return key;
}

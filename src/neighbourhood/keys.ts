import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { Envelope } from '../protocol/envelope.js';
import type { Keyring } from '../protocol/keyring.js';
import { createSigner, createVerifier, type Signer, type Verify } from '../protocol/signing.js';

/**
 * Keys for simulated homes. Ed25519 signatures are deterministic, so keys derived from the run's seed
 * make every signed byte of a run reproducible.
 */

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function deterministicKey(seed: number, name: string): KeyObject {
  const keySeed = createHash('sha256').update(`powerdeal-sim/${seed}/${name}`).digest();
  return createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, keySeed]),
    format: 'der',
    type: 'pkcs8',
  });
}

export function keyringOf(zone: string, keys: ReadonlyMap<string, KeyObject>): Keyring {
  const members = new Map<string, KeyObject>();
  for (const [home, key] of keys) members.set(home, createPublicKey(key));
  return { zone, members };
}

/** The benchmark's baseline: homes that do not sign, and receivers that do not check. */
function unsignedSigner(homeId: string): Signer {
  return { homeId, sign: <B extends object>(env: Envelope<B>) => env, signTagged: () => '' };
}

export function signing(
  on: boolean,
  homeId: string,
  key: KeyObject,
  keyring: Keyring,
): { signer: Signer; verify: Verify | undefined } {
  return on
    ? { signer: createSigner(homeId, key), verify: createVerifier(keyring) }
    : { signer: unsignedSigner(homeId), verify: undefined };
}

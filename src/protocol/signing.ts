import { type KeyObject, sign, verify } from 'node:crypto';
import { type Envelope, signingBytes } from './envelope.js';
import { KeyError } from './key-error.js';
import type { Keyring } from './keyring-file.js';

/**
 * Ed25519 signatures over an envelope's signing bytes (its canonical JSON without `sig`), so any
 * receiver can rebuild the signed bytes from the object it parsed.
 */

export interface Signer {
  readonly homeId: string;
  /** A copy of the envelope with `sig` set. */
  sign<B extends object>(env: Envelope<B>): Envelope<B>;
  /**
   * A signature (base64url) over `tag` and `bytes`, for what is not an envelope (the fallback CONNECT
   * token). The tag keeps each use apart: no such signature is ever valid for an envelope, or for another tag.
   */
  signTagged(tag: string, bytes: Buffer): string;
}

/** The bytes a tagged signature covers: the tag, a line break, the bytes (an envelope starts with "{"). */
export function taggedBytes(tag: string, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`powerdeal:${tag}\n`, 'utf8'), bytes]);
}

/** Checks a tagged signature against every key the keyring holds for `home` (current, then previous). */
export function verifyTagged(
  keyring: Keyring,
  home: string,
  tag: string,
  bytes: Buffer,
  sig: Buffer,
): boolean {
  const current = keyring.members.get(home);
  if (!current) return false;
  const data = taggedBytes(tag, bytes);
  if (verify(null, data, current, sig)) return true;
  return (keyring.previousKeys?.get(home) ?? []).some((key) => verify(null, data, key, sig));
}

export function createSigner(homeId: string, privateKey: KeyObject): Signer {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new KeyError(`the signing key of ${homeId} must be an Ed25519 private key`);
  }
  return {
    homeId,
    sign<B extends object>(env: Envelope<B>): Envelope<B> {
      // A home signs only its own messages: anything else is a bug that receivers would refuse anyway.
      if (env.from !== homeId)
        throw new Error(`signer of ${homeId} asked to sign a message from ${env.from}`);
      const sig = sign(null, signingBytes(env), privateKey).toString('base64url');
      return { ...env, sig };
    },
    signTagged(tag, bytes) {
      return sign(null, taggedBytes(tag, bytes), privateKey).toString('base64url');
    },
  };
}

/** What a signature check can refuse, once envelopes are signed (a zone keyring). */
export type VerifyFailure = 'unsigned' | 'bad-signature' | 'unknown-sender';

export type Verify = (env: Envelope, payload: Buffer) => VerifyFailure | null;

/**
 * Checks a received envelope against the zone keyring: null when it is signed by a key of its sender.
 * The keys are the keyring's parsed KeyObjects; each message costs one verification (two while its sender
 * is changing keys and still signs with the previous one).
 */
export function createVerifier(keyring: Keyring): Verify {
  return (env) => {
    if (env.sig === undefined) return 'unsigned';
    const current = env.zone === keyring.zone ? keyring.members.get(env.from) : undefined;
    if (!current) return 'unknown-sender';
    const bytes = signingBytes(env);
    const sig = Buffer.from(env.sig, 'base64url');
    if (verify(null, bytes, current, sig)) return null;
    for (const key of keyring.previousKeys?.get(env.from) ?? []) {
      if (verify(null, bytes, key, sig)) return null;
    }
    return 'bad-signature';
  };
}

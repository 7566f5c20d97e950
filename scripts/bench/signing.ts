/**
 * Signing benchmark: the cost per message of signing an envelope and of checking it against the zone
 * keyring, each against raw node:crypto Ed25519 on the same bytes measured in the same run (so the
 * difference is the canonical serialization and the keyring lookup); what a refusal costs; what the
 * KeyObject cache saves; and reading a 100-home keyring. Run alone: node --import tsx scripts/bench/signing.ts
 */
import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { createEnvelope, type Envelope, signingBytes } from '../../src/protocol/envelope.js';
import { generateHomeKey, keyringText, parseKeyring } from '../../src/protocol/keyring.js';
import { createSigner, createVerifier } from '../../src/protocol/signing.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';
import { round } from './util.js';

const N = 5_000;
const SLOT = Date.UTC(2030, 5, 1, 12, 0, 0);

/** µs per call of `fn` over `n` calls, after a warm-up. */
function usPerOp(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(500, n); i++) fn(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t) / 1000 / n;
}

function compare(n: number, ours: (i: number) => void, raw: (i: number) => void) {
  const us = usPerOp(n, ours);
  const baselineUs = usPerOp(n, raw);
  return {
    n,
    usPerOp: round(us),
    baselineUsPerOp: round(baselineUs),
    ratioToBaseline: round(us / baselineUs),
  };
}

/** A trade as the seller sends it: the largest of the trading messages. */
function trade(seq: number): Envelope {
  return createEnvelope({
    type: 'trade',
    from: 'home-1',
    zone: 'lyon-7',
    seq,
    ts: SLOT - 300_000,
    exp: SLOT,
    corr: uuidv7(SLOT - 300_001),
    body: {
      tradeId: uuidv7(SLOT - 300_000),
      acceptId: uuidv7(SLOT - 300_001),
      seller: 'home-1',
      buyer: 'home-2',
      slot: SLOT,
      slotMs: 900_000,
      version: 3,
      energyWh: 750,
      priceCentsPerKwh: 12.5,
      confirmedAt: SLOT - 300_000,
    },
  });
}

export async function benchSigning(): Promise<Record<string, unknown>> {
  const homes = Array.from({ length: 100 }, (_, i) => ({ id: `home-${i + 1}`, key: generateHomeKey() }));
  const members = new Map<string, KeyObject>(homes.map((h) => [h.id, createPublicKey(h.key)]));
  const keyringYaml = keyringText({ zone: 'lyon-7', members });
  const keyring = parseKeyring(keyringYaml, 'bench');
  const own = homes[0]!;
  const ownPublic = createPublicKey(own.key);
  const signer = createSigner(own.id, own.key);
  const check = createVerifier(keyring);

  const envs = Array.from({ length: 64 }, (_, i) => trade(i + 1));
  const signed = envs.map((e) => signer.sign(e));
  const bytes = envs.map((e) => signingBytes(e));
  const sigs = signed.map((e) => Buffer.from(e.sig!, 'base64url'));
  const wrong = createSigner(own.id, generateHomeKey());
  const forged = envs.map((e) => wrong.sign(e));
  const stranger = createVerifier({ zone: 'lyon-7', members: new Map() });
  const spki = ownPublic.export({ format: 'der', type: 'spki' });

  let failures = 0;
  const result = {
    envelopeBytes: bytes[0]!.length,
    sign: compare(
      N,
      (i) => signer.sign(envs[i % 64]!),
      (i) => sign(null, bytes[i % 64]!, own.key),
    ),
    verify: compare(
      N,
      (i) => {
        if (check(signed[i % 64]!, bytes[0]!) !== null) failures++;
      },
      (i) => {
        if (!verify(null, bytes[i % 64]!, ownPublic, sigs[i % 64]!)) failures++;
      },
    ),
    /** The canonical serialization alone: what sign and verify add to the raw Ed25519 call. */
    signingBytesUsPerOp: round(usPerOp(N, (i) => signingBytes(envs[i % 64]!))),
    refuse: {
      badSignatureUsPerOp: round(usPerOp(N, (i) => check(forged[i % 64]!, bytes[0]!))),
      unknownSenderUsPerOp: round(
        usPerOp(N, (i) => stranger(signed[i % 64]!, bytes[0]!)),
        3,
      ),
      unsignedUsPerOp: round(
        usPerOp(N, (i) => check(envs[i % 64]!, bytes[0]!)),
        3,
      ),
    },
    /** Raw verification with the key re-imported from its DER bytes on every call, i.e. without the cache. */
    uncachedKeyVerifyUsPerOp: round(
      usPerOp(N, (i) => {
        verify(null, bytes[i % 64]!, { key: spki, format: 'der', type: 'spki' }, sigs[i % 64]!);
      }),
    ),
    keyring100: {
      bytes: Buffer.byteLength(keyringYaml),
      parseMs: round(usPerOp(50, () => parseKeyring(keyringYaml, 'bench')) / 1000, 3),
    },
  };
  if (failures > 0) throw new Error(`${failures} signatures did not verify`);
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${JSON.stringify(await benchSigning(), null, 2)}\n`);
}

import { z } from 'zod';
import { errorText } from '../core/errors.js';
import { ID_PATTERN } from '../core/ids.js';
import { statusBodySchema, telemetryBodySchema } from './bodies.js';
import { canonicalJson } from './canonical.js';
import type { TopicKind } from './topics.js';
import { TRADING_BODY_SCHEMAS, TRADING_TYPES } from './trading.js';
import { isUuidV7, uuidv7 } from './uuidv7.js';

/**
 * The one message envelope (docs/protocol.md). On the wire it is its canonical JSON serialization, so the bytes a
 * signature covers are the bytes any receiver can rebuild from the parsed object (minus `sig`).
 */
const ENVELOPE_VERSION = 1;

/** Larger payloads are refused before parsing, on both sides. */
export const MAX_ENVELOPE_BYTES = 16 * 1024;

const MESSAGE_TYPES = ['status', 'telemetry', ...TRADING_TYPES] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** The topics each type may be published on; anything else is refused by receivers. */
export const TYPE_TOPICS: Record<MessageType, readonly TopicKind[]> = {
  status: ['status'],
  telemetry: ['telemetry'],
  // On the own offer topic, and as the answer to an offer request in the asker's inbox.
  offer: ['offer', 'inbox'],
  'offer-request': ['requests'],
  accept: ['inbox'],
  trade: ['inbox', 'trades'],
  reject: ['inbox'],
  ack: ['inbox'],
  settlement: ['inbox', 'trades'],
};

const BODY_SCHEMAS: Record<MessageType, z.ZodType> = {
  status: statusBodySchema,
  telemetry: telemetryBodySchema,
  ...TRADING_BODY_SCHEMAS,
};

const uuid = z.string().refine(isUuidV7, { error: 'must be a lowercase UUIDv7' });

const envelopeSchema = z.strictObject({
  v: z.literal(ENVELOPE_VERSION),
  id: uuid,
  type: z.enum(MESSAGE_TYPES),
  from: z.string().regex(ID_PATTERN),
  zone: z.string().regex(ID_PATTERN),
  /** Per sender, persisted, strictly increasing across all of its messages. */
  seq: z.int().min(0),
  /** Creation time, epoch ms. */
  ts: z.int().min(0),
  /** Epoch ms after which the message is stale and must be ignored. */
  exp: z.int().min(0).optional(),
  /** The id of the message this one answers. */
  corr: uuid.optional(),
  body: z.record(z.string(), z.unknown()),
  /** Ed25519 signature of signingBytes(envelope), base64url without padding. */
  sig: z
    .string()
    .regex(/^[A-Za-z0-9_-]{86}$/)
    .optional(),
});

export type Envelope<B = Record<string, unknown>> = Omit<z.infer<typeof envelopeSchema>, 'body'> & {
  body: B;
};

export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

export interface EnvelopeInput<B> {
  type: MessageType;
  from: string;
  zone: string;
  seq: number;
  ts: number;
  body: B;
  exp?: number;
  corr?: string;
  /** Defaults to a fresh UUIDv7 made from `ts`. */
  id?: string;
}

/** Builds and validates an envelope, so a home never sends what receivers would refuse. */
export function createEnvelope<B extends Record<string, unknown>>(input: EnvelopeInput<B>): Envelope<B> {
  const env = {
    v: ENVELOPE_VERSION,
    id: input.id ?? uuidv7(input.ts),
    type: input.type,
    from: input.from,
    zone: input.zone,
    seq: input.seq,
    ts: input.ts,
    exp: input.exp,
    corr: input.corr,
    body: input.body,
  };
  const checked = envelopeSchema.safeParse(env);
  if (!checked.success) throw new EnvelopeError(`invalid envelope: ${firstIssue(checked.error)}`);
  const body = BODY_SCHEMAS[input.type].safeParse(input.body);
  if (!body.success) throw new EnvelopeError(`invalid ${input.type} body: ${firstIssue(body.error)}`);
  return checked.data as Envelope<B>;
}

/** The wire form: canonical JSON, UTF-8. Throws if it exceeds MAX_ENVELOPE_BYTES. */
export function encodeEnvelope(env: Envelope<object>): Buffer {
  const buf = Buffer.from(canonicalJson(env), 'utf8');
  if (buf.length > MAX_ENVELOPE_BYTES) {
    throw new EnvelopeError(`envelope is ${buf.length} bytes, the limit is ${MAX_ENVELOPE_BYTES}`);
  }
  return buf;
}

/** The bytes an Ed25519 signature covers: the canonical serialization without `sig`. */
export function signingBytes(env: Envelope<object>): Buffer {
  const { sig: _sig, ...unsigned } = env;
  return Buffer.from(canonicalJson(unsigned), 'utf8');
}

export type DecodeFailure = 'oversized' | 'not-json' | 'bad-envelope' | 'bad-body';

export type DecodeResult =
  | { ok: true; envelope: Envelope }
  | { ok: false; reason: DecodeFailure; detail: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses and validates a received payload. Never throws: every failure is a reason and a detail. The size
 * check comes first so an oversized payload costs nothing to refuse.
 */
export function decodeEnvelope(payload: Uint8Array): DecodeResult {
  if (payload.length > MAX_ENVELOPE_BYTES) {
    return { ok: false, reason: 'oversized', detail: `${payload.length} bytes > ${MAX_ENVELOPE_BYTES}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(utf8.decode(payload));
  } catch (err) {
    return { ok: false, reason: 'not-json', detail: errorText(err).slice(0, 200) };
  }
  const env = envelopeSchema.safeParse(raw);
  if (!env.success) return { ok: false, reason: 'bad-envelope', detail: firstIssue(env.error) };
  const body = BODY_SCHEMAS[env.data.type].safeParse(env.data.body);
  if (!body.success) return { ok: false, reason: 'bad-body', detail: firstIssue(body.error) };
  return { ok: true, envelope: env.data };
}

function firstIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
  return `${path}: ${issue.message}`.slice(0, 200);
}

import { errorText } from '../core/errors.js';

/**
 * What a failed publish means for its outbox row. MQTT 5 PUBACK reason codes that say "this message will
 * never be accepted as it is" move the row to the dead-letter table; everything else (quota exceeded,
 * server busy, unspecified error, a lost connection, a PUBACK timeout) is retried.
 */
export const DEAD_LETTER_REASON_CODES: ReadonlyMap<number, string> = new Map([
  [0x87, 'not authorized'],
  [0x90, 'topic name invalid'],
  [0x95, 'packet too large'],
  [0x99, 'payload format invalid'],
  [0x9a, 'retain not supported'],
  [0x9b, 'qos not supported'],
]);

/** CONNACK codes that mean the broker does not speak MQTT 5 (3.1.1 code 1, MQTT 5 code 0x84). */
export const UNSUPPORTED_PROTOCOL_CODES: ReadonlySet<number> = new Set([0x01, 0x84]);

export type PublishFailure = { kind: 'dead-letter'; reason: string } | { kind: 'retry'; reason: string };

export function reasonCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function classifyPublishError(err: unknown): PublishFailure {
  const code = reasonCodeOf(err);
  const dead = code === undefined ? undefined : DEAD_LETTER_REASON_CODES.get(code);
  if (dead !== undefined) return { kind: 'dead-letter', reason: `0x${code!.toString(16)} ${dead}` };
  const message = errorText(err);
  return { kind: 'retry', reason: code === undefined ? message : `0x${code.toString(16)} ${message}` };
}

import type { StatusBody, TelemetryBody } from './bodies.js';
import { createEnvelope, type Envelope } from './envelope.js';

/** Builders for the messages the link itself and the telemetry path send. */

export interface HomeId {
  id: string;
  zone: string;
}

export function statusEnvelope(
  home: HomeId,
  state: StatusBody['state'],
  version: string,
  seq: number,
  now: number,
): Envelope<StatusBody> {
  return createEnvelope({
    type: 'status',
    from: home.id,
    zone: home.zone,
    seq,
    ts: now,
    body: { state, version },
  });
}

/** One closed telemetry interval as an envelope (sign it, then make it an outbox row of class `telemetry`). */
export function telemetryEnvelope(
  home: HomeId,
  body: TelemetryBody,
  seq: number,
  now: number,
): Envelope<TelemetryBody> {
  return createEnvelope({ type: 'telemetry', from: home.id, zone: home.zone, seq, ts: now, body });
}

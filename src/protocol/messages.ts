import type { OutboxMessage } from '../store/outbox-types.js';
import type { StatusBody, TelemetryBody } from './bodies.js';
import { createEnvelope, type Envelope, encodeEnvelope } from './envelope.js';
import { homeTopic } from './topics.js';

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

/** Telemetry as an outbox row: class `telemetry`, not retained, shed oldest-first by the outbox. */
export function telemetryMessage(home: HomeId, body: TelemetryBody, seq: number, now: number): OutboxMessage {
  const env = createEnvelope({ type: 'telemetry', from: home.id, zone: home.zone, seq, ts: now, body });
  return {
    id: env.id,
    class: 'telemetry',
    topic: homeTopic(home.zone, home.id, 'telemetry'),
    payload: encodeEnvelope(env),
    retain: false,
  };
}

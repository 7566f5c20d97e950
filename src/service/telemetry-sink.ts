import type { Snapshot } from '../core/quantities.js';
import type { SnapshotSink } from '../cycle/runner.js';
import { createTelemetryAggregator, type TelemetryAggregator } from '../link/telemetry.js';
import type { TelemetryBody } from '../protocol/bodies.js';
import { createEnvelope, encodeEnvelope } from '../protocol/envelope.js';
import type { Signer } from '../protocol/signing.js';
import { homeTopic } from '../protocol/topics.js';
import type { Store } from '../store/index.js';
import type { ServiceContext } from './context.js';

/**
 * Turns each cycle's snapshot into interval telemetry, enqueued as the sheddable outbox class. With a
 * signer (the home has a key) every telemetry envelope is signed, like everything else it publishes.
 */
export class TelemetrySink implements SnapshotSink {
  readonly name = 'telemetry';
  private readonly aggregator: TelemetryAggregator;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly store: Store,
    /** Wakes the link so a new row goes out now, not at its next idle poll. */
    private readonly enqueued: () => void = () => undefined,
    private readonly signer: Signer | null = null,
  ) {
    this.aggregator = createTelemetryAggregator({
      intervalMs: ctx.config.mqtt?.telemetryIntervalMs ?? 10_000,
      home: ctx.config.home,
    });
  }

  accept(snapshot: Snapshot): void {
    const body = this.aggregator.add(snapshot);
    if (!body) return;
    this.enqueue(body, this.ctx.now());
    this.enqueued();
  }

  /** Envelope (signed when possible) and outbox row, seq and row in one transaction. */
  private enqueue(body: TelemetryBody, now: number): void {
    const { store, signer } = this;
    const home = this.ctx.config.home;
    store.transaction(() => {
      if (!signer) {
        store.outbox.enqueue(this.aggregator.message(body, store.seq.next(), now), now);
        return;
      }
      const env = signer.sign(
        createEnvelope({
          type: 'telemetry',
          from: home.id,
          zone: home.zone,
          seq: store.seq.next(),
          ts: now,
          body,
        }),
      );
      store.outbox.enqueue(
        {
          id: env.id,
          class: 'telemetry',
          topic: homeTopic(home.zone, home.id, 'telemetry'),
          payload: encodeEnvelope(env),
          retain: false,
        },
        now,
      );
    });
  }
}

import type { Snapshot } from '../core/quantities.js';
import type { SnapshotSink } from '../cycle/runner.js';
import { createTelemetryAggregator, enqueueTelemetry, type TelemetryAggregator } from '../link/telemetry.js';
import type { Signer } from '../protocol/signing.js';
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
    signer: Signer | null = null,
  ) {
    this.aggregator = createTelemetryAggregator({
      intervalMs: ctx.config.mqtt?.telemetryIntervalMs ?? 10_000,
      home: ctx.config.home,
      signer,
    });
  }

  accept(snapshot: Snapshot): void {
    const body = this.aggregator.add(snapshot);
    if (!body) return;
    // Envelope (signed when possible) and outbox row: seq and row in one transaction.
    enqueueTelemetry(this.store, this.aggregator, body, this.ctx.now());
    this.enqueued();
  }
}

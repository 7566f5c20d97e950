import type { Snapshot } from '../core/quantities.js';
import type { SnapshotSink } from '../cycle/runner.js';
import { createTelemetryAggregator, enqueueTelemetry, type TelemetryAggregator } from '../link/telemetry.js';
import type { Store } from '../store/index.js';
import type { ServiceContext } from './context.js';

/** Turns each cycle's snapshot into interval telemetry, enqueued as the sheddable outbox class. */
export class TelemetrySink implements SnapshotSink {
  readonly name = 'telemetry';
  private readonly aggregator: TelemetryAggregator;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly store: Store,
    /** Wakes the link so a new row goes out now, not at its next idle poll. */
    private readonly enqueued: () => void = () => undefined,
  ) {
    this.aggregator = createTelemetryAggregator({
      intervalMs: ctx.config.mqtt?.telemetryIntervalMs ?? 10_000,
      home: ctx.config.home,
    });
  }

  accept(snapshot: Snapshot): void {
    const body = this.aggregator.add(snapshot);
    if (!body) return;
    enqueueTelemetry(this.store, this.aggregator, body, this.ctx.now());
    this.enqueued();
  }
}

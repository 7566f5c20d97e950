import { z } from 'zod';
import { QUANTITY_NAMES } from '../core/quantities.js';

/** Bodies of the status and telemetry messages; the trading bodies are in trading.ts. */

export const statusBodySchema = z.strictObject({
  state: z.enum(['online', 'offline']),
  version: z.string().min(1).max(64),
});
export type StatusBody = z.infer<typeof statusBodySchema>;

const stat = z.number().nullable();

/** One quantity over a telemetry interval. Statistics cover good samples only; null when there were none. */
const quantityStatsSchema = z.strictObject({
  /** Number of good samples. */
  n: z.int().min(0),
  mean: stat,
  min: stat,
  max: stat,
  /** The value in the last snapshot of the interval (the last good value, whatever its quality now). */
  last: stat,
  /** The quality in the last snapshot of the interval. */
  quality: z.enum(['good', 'stale', 'fault']),
});
export type QuantityStats = z.infer<typeof quantityStatsSchema>;

export const telemetryBodySchema = z
  .strictObject({
    /** Interval start and end, epoch ms: [from, to). */
    from: z.int().min(0),
    to: z.int().min(0),
    /** Snapshots aggregated. */
    samples: z.int().min(1),
    q: z.partialRecord(z.enum(QUANTITY_NAMES), quantityStatsSchema),
  })
  .refine((b) => b.to > b.from, { error: 'telemetry interval must end after it starts' });
export type TelemetryBody = z.infer<typeof telemetryBodySchema>;

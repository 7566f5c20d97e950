import { describe, expect, it } from 'vitest';
import { benchZone } from '../../scripts/bench/zone-load.js';
import type { ZoneRun } from '../../scripts/bench/zone-run.js';

/**
 * The zone load benchmark's own accounting, at 10 homes on 2 workers for a few seconds (a modelled hour
 * in 10 s, so every kind of message flows): every envelope a home sent reached exactly the homes it
 * should (offers every other home, inbox messages the addressee) and the zone observer, nothing else
 * arrived, and no id was taken twice. Timing is not checked.
 */
describe('zone load benchmark', () => {
  it('accounts for every message through the link and through bare clients', async () => {
    const result = await benchZone({
      homes: [10],
      hourS: 10,
      workers: 2,
      idleS: 0.5,
      warmS: 0.5,
      windowS: 3,
      drainTimeoutS: 15,
      audit: true,
      observer: true,
    });
    const run = (result.runs as Record<string, unknown>[])[0]!;
    for (const mode of ['link', 'raw'] as const) {
      const r = run[mode] as ZoneRun;
      const a = r.accounting;
      expect(a.audit, mode).toBeDefined();
      expect(a.audit!.examples, mode).toEqual([]);
      expect(
        { missing: a.audit!.missing, unexpected: a.audit!.unexpected, duplicates: a.audit!.duplicates },
        mode,
      ).toEqual({ missing: 0, unexpected: 0, duplicates: 0 });
      expect(a.audit!.observer, mode).toMatchObject({ missing: 0, unexpected: 0, duplicates: 0 });
      expect(a.missing, mode).toBe(0);
      expect(a.duplicates, mode).toBe(0);
      expect(a.pendingAtEnd, mode).toBe(0);
      expect(a.refused, mode).toEqual({});
      // Every kind flowed: offers fanned out, the chain offer → accept → trade → ack, settlements.
      expect(a.audit!.expected, mode).toBeGreaterThan(100);
      for (const kind of ['offer', 'telemetry', 'accept', 'trade', 'ack', 'settlement']) {
        expect(a.observer?.byType[kind] ?? 0, `${mode} ${kind}`).toBeGreaterThan(0);
      }
      expect(r.latencyMs.offerToTrade.n, mode).toBeGreaterThan(0);
    }
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { ALL_FAULTS, checkInvariants, NO_FAULTS, runNeighbourhood } from '../../src/neighbourhood/index.js';

describe('determinism', () => {
  it.each([11, 12, 13])('seed %i with every fault gives the same report twice', async (seed) => {
    const opts = { seed, homes: 6, hours: 2, faults: ALL_FAULTS };
    const a = await runNeighbourhood(opts);
    const b = await runNeighbourhood(opts);
    expect(b.digest).toBe(a.digest);
    expect(b).toEqual(a);
    const result = checkInvariants(a, b);
    expect(result.violations).toEqual([]);
    expect(result.checked.determinism).toBe(1);
  });

  it('different seeds give different neighbourhoods', async () => {
    const digests = new Set<string>();
    for (const seed of [21, 22, 23]) {
      digests.add((await runNeighbourhood({ seed, homes: 4, hours: 1, faults: ALL_FAULTS })).digest);
    }
    expect(digests.size).toBe(3);
  });
});

describe('signatures', () => {
  it('change no decision: the same seed trades the same signed and unsigned', async () => {
    const base = { seed: 51, homes: 8, hours: 2, faults: { ...ALL_FAULTS, roguePerHour: 0 } };
    const signed = await runNeighbourhood(base);
    const unsigned = await runNeighbourhood({ ...base, signatures: false });
    expect(signed.trades).toBeGreaterThan(0);
    expect(unsigned.tradingDigest).toBe(signed.tradingDigest);
    expect(unsigned.wire.delivered).toEqual(signed.wire.delivered);
    expect(unsigned.digest).not.toBe(signed.digest);
  });
});

describe('the rogue client', () => {
  it.each([31, 32])(
    'seed %i: forged, unsigned, tampered and garbage messages are refused and change nothing',
    async (seed) => {
      const base = { seed, homes: 6, hours: 2 };
      const quiet = await runNeighbourhood({ ...base, faults: { ...ALL_FAULTS, roguePerHour: 0 } });
      const attacked = await runNeighbourhood({ ...base, faults: { ...ALL_FAULTS, roguePerHour: 60 } });
      expect(attacked.tradingDigest).toBe(quiet.tradingDigest);
      expect(attacked.trades).toBe(quiet.trades);
      expect(quiet.rogue).toEqual({});
      const sent = Object.values(attacked.rogue).reduce((a, b) => a + b, 0);
      expect(sent).toBeGreaterThan(50);
      expect(attacked.injected.rogueMessages).toBe(sent);
      for (const reason of ['bad-signature', 'unsigned', 'unknown-sender', 'not-json']) {
        expect(attacked.rogue[reason], reason).toBeGreaterThan(0);
        expect(attacked.deadLetters[reason], reason).toBe(attacked.rogue[reason]);
      }
      // Without the rogue client nothing is refused for a signature.
      for (const reason of ['bad-signature', 'unsigned', 'unknown-sender']) {
        expect(quiet.deadLetters[reason], reason).toBeUndefined();
      }
      expect(checkInvariants(attacked).violations).toEqual([]);
    },
  );
});

describe('a fault-free neighbourhood', () => {
  it('trades, settles everything due, and fans offers out to every other home', async () => {
    const homes = 6;
    const report = await runNeighbourhood({ seed: 41, homes, hours: 2, faults: NO_FAULTS });
    const result = checkInvariants(report);
    expect(result.violations).toEqual([]);
    expect(report.trades).toBeGreaterThan(10);
    expect(report.energyWh).toBeGreaterThan(0);
    expect(result.summary.settled).toBeGreaterThan(5);
    const { published, delivered } = report.wire;
    expect(delivered.offer).toBe((homes - 1) * published.offer!);
    expect(delivered.accept).toBe(published.accept);
    expect(Object.keys(report.deadLetters).filter((r) => r !== 'expired')).toEqual([]);
    for (const h of report.homes) {
      expect(h.failedSteps, h.id).toBe(0);
      expect(Object.values(h.crashes).every((n) => n === 0)).toBe(true);
    }
    // Buyers and sellers both sent and received: traffic is counted per home and type.
    const sellers = report.homes.filter((h) => (h.traffic.sent.offer ?? 0) > 0);
    const buyers = report.homes.filter((h) => (h.traffic.sent.accept ?? 0) > 0);
    expect(sellers.length).toBeGreaterThan(0);
    expect(buyers.length).toBeGreaterThan(0);
    for (const b of buyers) expect(b.traffic.received.offer).toBeGreaterThan(0);
  });
});

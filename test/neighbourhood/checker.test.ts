import { beforeAll, describe, expect, it } from 'vitest';
import {
  ALL_FAULTS,
  checkInvariants,
  type InvariantName,
  type NeighbourhoodReport,
  NO_FAULTS,
  runNeighbourhood,
} from '../../src/neighbourhood/index.js';
import { forgetfulOnce, oversellingEngine, rewriting } from './broken.js';

/** The checks can fail: broken engines, tampering networks and doctored reports are all caught. */

const broken = (r: ReturnType<typeof checkInvariants>) => new Set(r.violations.map((v) => v.invariant));

describe('broken variants are caught', () => {
  it('a seller that answers refused accepts with trades oversells and disagrees with its buyers', async () => {
    const oversold: number[] = [];
    for (const seed of [1, 3, 5]) {
      const report = await runNeighbourhood({
        seed,
        homes: 6,
        hours: 3,
        faults: ALL_FAULTS,
        wrapEngine: oversellingEngine,
      });
      // The real engine inside refused some accepts; each refusal became an unrecorded trade.
      expect(
        Object.values(report.rejects).reduce((a, b) => a + b, 0),
        `seed ${seed}`,
      ).toBeGreaterThan(0);
      const result = checkInvariants(report);
      expect(result.ok).toBe(false);
      expect(broken(result).has('trade-agreement'), `seed ${seed}`).toBe(true);
      if (broken(result).has('oversold')) oversold.push(seed);
    }
    expect(oversold.length).toBeGreaterThan(0);
  });

  it('a network that changes trade energies, without signatures: the two sides disagree', async () => {
    const report = await runNeighbourhood({
      seed: 1,
      homes: 6,
      hours: 2,
      faults: NO_FAULTS,
      signatures: false,
      rewrite: rewriting('trade'),
    });
    expect(report.trades).toBeGreaterThan(0);
    const result = checkInvariants(report);
    expect([...broken(result)]).toEqual(['trade-agreement']);
    expect(result.violations[0]?.detail).toMatch(/seller has \d+ Wh .* buyer \d+ Wh/);
  });

  it('the same network with signatures: every changed trade is dead-lettered and never reaches the buyer', async () => {
    const report = await runNeighbourhood({
      seed: 1,
      homes: 6,
      hours: 2,
      faults: NO_FAULTS,
      rewrite: rewriting('trade'),
    });
    expect(report.deadLetters['bad-signature']).toBeGreaterThan(0);
    expect(
      report.homes.flatMap((h) => h.deals).filter((d) => d.role === 'buyer' && d.tradeId !== null),
    ).toEqual([]);
    const result = checkInvariants(report);
    expect(broken(result)).toEqual(new Set<InvariantName>(['dead-letters', 'trade-agreement']));
  });

  it('a network that changes settlement allocations, without signatures: the settlements disagree', async () => {
    const report = await runNeighbourhood({
      seed: 1,
      homes: 6,
      hours: 2,
      faults: NO_FAULTS,
      signatures: false,
      rewrite: rewriting('settlement'),
    });
    const result = checkInvariants(report);
    expect([...broken(result)]).toEqual(['settlement']);
  });

  it('an engine with memory outside its state makes two runs of one seed differ', async () => {
    const wrap = forgetfulOnce();
    const opts = { seed: 2, homes: 6, hours: 2, faults: NO_FAULTS, wrapEngine: wrap };
    const first = await runNeighbourhood(opts);
    const second = await runNeighbourhood(opts);
    const result = checkInvariants(first, second);
    expect(broken(result).has('determinism')).toBe(true);
  });
});

describe('each check catches a doctored report', () => {
  let good: NeighbourhoodReport;
  beforeAll(async () => {
    good = await runNeighbourhood({ seed: 7, homes: 6, hours: 2, faults: NO_FAULTS });
  });

  const sale = (r: NeighbourhoodReport) => {
    const s = r.homes
      .flatMap((h) => h.deals)
      .find((d) => d.role === 'seller' && d.status === 'settled' && d.slot + r.slotMs <= r.settleBy);
    if (!s) throw new Error('no sale due and settled in the run');
    return s;
  };
  const purchaseOf = (r: NeighbourhoodReport, tradeId: string | null) => {
    const p = r.homes.flatMap((h) => h.deals).find((d) => d.role === 'buyer' && d.tradeId === tradeId);
    if (!p) throw new Error('no purchase');
    return p;
  };

  const cases: [string, InvariantName, (r: NeighbourhoodReport) => void][] = [
    [
      'a home down at the end',
      'homes-up',
      (r) => {
        r.homes[0]!.up = false;
      },
    ],
    [
      'a sale above the offer',
      'oversold',
      (r) => {
        const s = sale(r);
        s.energyWh += 1_000_000;
      },
    ],
    [
      'a purchase with another energy',
      'trade-agreement',
      (r) => {
        purchaseOf(r, sale(r).tradeId).energyWh += 1;
      },
    ],
    [
      'a purchase the seller never made',
      'trade-agreement',
      (r) => {
        const s = sale(r);
        const seller = r.homes.find((h) => h.deals.includes(s))!;
        seller.deals = seller.deals.filter((d) => d !== s);
      },
    ],
    [
      'a trade confirmed at gate closure',
      'expired-offer',
      (r) => {
        const s = sale(r);
        s.confirmedAt = s.slot;
      },
    ],
    [
      'a settled amount that is not the smaller allocation',
      'settlement',
      (r) => {
        const s = sale(r);
        s.settledWh = (s.settledWh ?? 0) + 1;
      },
    ],
    [
      'a trade left unsettled after the heal',
      'settlement',
      (r) => {
        const s = sale(r);
        purchaseOf(r, s.tradeId).status = 'confirmed';
      },
    ],
    [
      'a trade published with two bodies',
      'wire-conflict',
      (r) => {
        r.wire.tradeConflicts.push('x');
      },
    ],
    [
      'a bad signature without a rogue client',
      'dead-letters',
      (r) => {
        r.deadLetters['bad-signature'] = 1;
      },
    ],
    [
      'a rogue message that was not refused',
      'dead-letters',
      (r) => {
        r.rogue.unsigned = 2;
      },
    ],
  ];

  it('the undoctored report passes', () => {
    const result = checkInvariants(good);
    expect(result.violations).toEqual([]);
    expect(result.summary.settled).toBeGreaterThan(0);
    for (const name of ['oversold', 'trade-agreement', 'expired-offer', 'settlement'] as const) {
      expect(result.checked[name], name).toBeGreaterThan(0);
    }
  });

  it.each(cases)('%s breaks %s', (_what, invariant, doctor) => {
    const copy = structuredClone(good);
    doctor(copy);
    const result = checkInvariants(copy);
    expect(result.ok).toBe(false);
    expect(result.violations.map((v) => v.invariant)).toContain(invariant);
    expect(result.violations.every((v) => v.seed === 7)).toBe(true);
  });
});

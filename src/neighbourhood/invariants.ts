import type { DealView } from '../engine/types.js';
import type { NeighbourhoodReport } from './report.js';

/**
 * The properties every run must have, checked on its report (after the heal period). The result names
 * each broken property with the seed and the home, slot and trade concerned, and counts what each check
 * looked at, since a check that looked at nothing proves nothing.
 */
export const INVARIANTS = [
  /** Every home is running at the end. */
  'homes-up',
  /** Σ sold for a seller and slot ≤ the most it ever offered for that slot (its views and the wire). */
  'oversold',
  /** Each sale has the buyer's purchase (same id, energy, price, slot) and each purchase the sale. */
  'trade-agreement',
  /** Every trade was confirmed before its slot started (gate closure). */
  'expired-offer',
  /** A deal of a slot that ended before the heal is settled as min(seller alloc, buyer alloc) on both sides. */
  'settlement',
  /** No tradeId was published with two different bodies. */
  'wire-conflict',
  /** Dead letters only for network effects (duplicate, expired) and exactly what the rogue client sent. */
  'dead-letters',
  /** The same seed gave the same digest (when a second run is given). */
  'determinism',
] as const;
export type InvariantName = (typeof INVARIANTS)[number];

export interface Violation {
  invariant: InvariantName;
  seed: number;
  detail: string;
}

export interface InvariantReport {
  seed: number;
  ok: boolean;
  violations: Violation[];
  /** Items each invariant examined. */
  checked: Record<InvariantName, number>;
  summary: {
    trades: number;
    energyWh: number;
    settled: number;
    rejects: NeighbourhoodReport['rejects'];
    published: NeighbourhoodReport['wire']['published'];
    faults: NeighbourhoodReport['injected'];
    deadLetters: Record<string, number>;
  };
}

/** Dead-letter reasons the network alone explains: redeliveries and messages that arrived too late. */
const NETWORK_REASONS = new Set(['duplicate', 'expired']);
const MAX_DETAILS_PER_INVARIANT = 20;

const SOLD: ReadonlySet<DealView['status']> = new Set(['confirmed', 'settled']);

export function checkInvariants(report: NeighbourhoodReport, rerun?: NeighbourhoodReport): InvariantReport {
  const violations: Violation[] = [];
  const checked = Object.fromEntries(INVARIANTS.map((n) => [n, 0])) as Record<InvariantName, number>;
  const perInvariant = new Map<InvariantName, number>();
  const fail = (invariant: InvariantName, detail: string) => {
    const n = (perInvariant.get(invariant) ?? 0) + 1;
    perInvariant.set(invariant, n);
    if (n <= MAX_DETAILS_PER_INVARIANT) violations.push({ invariant, seed: report.seed, detail });
  };
  const at = (t: number) => new Date(t).toISOString().slice(11, 19);

  for (const h of report.homes) {
    checked['homes-up']++;
    if (!h.up) fail('homes-up', `${h.id} is down at the end of the run`);
  }

  const sales = new Map<string, { seller: string; deal: DealView }>();
  const purchases = new Map<string, { buyer: string; deal: DealView }>();
  for (const h of report.homes) {
    for (const d of h.deals) {
      if (!SOLD.has(d.status) || d.tradeId === null) continue;
      if (d.role === 'seller') sales.set(d.tradeId, { seller: h.id, deal: d });
      else purchases.set(d.tradeId, { buyer: h.id, deal: d });
    }
  }

  // oversold: the homes' own views, then what went over the wire.
  const wireMax = new Map(report.wire.offers.map((o) => [`${o.seller}|${o.slot}`, o.maxEnergyWh]));
  for (const h of report.homes) {
    const sold = new Map<number, number>();
    for (const d of h.deals) {
      if (d.role === 'seller' && SOLD.has(d.status)) sold.set(d.slot, (sold.get(d.slot) ?? 0) + d.energyWh);
    }
    const viewMax = new Map<number, number>();
    for (const o of h.offers) viewMax.set(o.slot, Math.max(viewMax.get(o.slot) ?? 0, o.maxEnergyWh));
    for (const [slot, wh] of sold) {
      checked.oversold++;
      const offered = viewMax.get(slot) ?? 0;
      const onWire = wireMax.get(`${h.id}|${slot}`) ?? 0;
      if (wh > offered)
        fail('oversold', `${h.id} slot ${at(slot)}: sold ${wh} Wh > ${offered} Wh offered (own view)`);
      if (wh > onWire)
        fail('oversold', `${h.id} slot ${at(slot)}: sold ${wh} Wh > ${onWire} Wh offered on the wire`);
    }
  }
  const wireSold = new Map<string, number>();
  for (const t of report.wire.trades) {
    const key = `${t.seller}|${t.slot}`;
    wireSold.set(key, (wireSold.get(key) ?? 0) + t.energyWh);
  }
  for (const [key, wh] of wireSold) {
    checked.oversold++;
    const onWire = wireMax.get(key) ?? 0;
    if (wh > onWire) {
      const [seller, slot] = key.split('|');
      fail(
        'oversold',
        `${seller} slot ${at(Number(slot))}: trades on the wire total ${wh} Wh > ${onWire} Wh offered`,
      );
    }
  }

  // trade-agreement
  for (const [id, { seller, deal: s }] of sales) {
    checked['trade-agreement']++;
    const p = purchases.get(id);
    if (!p) {
      if ((s.confirmedAt ?? s.ts) <= report.knownBy) {
        fail(
          'trade-agreement',
          `${seller} sold ${id} (${s.energyWh} Wh to ${s.counterparty}) but the buyer does not know it`,
        );
      }
      continue;
    }
    const b = p.deal;
    if (p.buyer !== s.counterparty || b.counterparty !== seller) {
      fail(
        'trade-agreement',
        `${id}: seller ${seller} → ${s.counterparty}, but ${p.buyer} bought it from ${b.counterparty}`,
      );
    }
    if (b.energyWh !== s.energyWh || b.priceCentsPerKwh !== s.priceCentsPerKwh || b.slot !== s.slot) {
      fail(
        'trade-agreement',
        `${id}: seller has ${s.energyWh} Wh at ${s.priceCentsPerKwh} c for ${at(s.slot)}, buyer ${b.energyWh} Wh at ${b.priceCentsPerKwh} c for ${at(b.slot)}`,
      );
    }
  }
  for (const [id, { buyer, deal: b }] of purchases) {
    checked['trade-agreement']++;
    if (!sales.has(id))
      fail(
        'trade-agreement',
        `${buyer} bought ${id} (${b.energyWh} Wh from ${b.counterparty}) but the seller never sold it`,
      );
  }
  for (const t of report.wire.trades) {
    checked['trade-agreement']++;
    if (!sales.has(t.tradeId)) {
      fail(
        'trade-agreement',
        `${t.seller} published trade ${t.tradeId} (${t.energyWh} Wh to ${t.buyer}) it does not hold`,
      );
    }
  }

  // expired-offer
  for (const [id, { seller, deal: s }] of sales) {
    checked['expired-offer']++;
    if (s.confirmedAt === null || s.confirmedAt >= s.slot) {
      fail(
        'expired-offer',
        `${seller} confirmed ${id} at ${s.confirmedAt === null ? 'an unknown time' : at(s.confirmedAt)}, gate closure ${at(s.slot)}`,
      );
    }
  }
  for (const t of report.wire.trades) {
    checked['expired-offer']++;
    if (t.confirmedAt >= t.slot) {
      fail(
        'expired-offer',
        `trade ${t.tradeId} on the wire confirmed at ${at(t.confirmedAt)}, gate closure ${at(t.slot)}`,
      );
    }
  }

  // settlement
  let settled = 0;
  for (const [id, { seller, deal: s }] of sales) {
    const p = purchases.get(id);
    const due = s.slot + report.slotMs <= report.settleBy;
    for (const [who, d] of [
      [seller, s],
      [p?.buyer, p?.deal],
    ] as const) {
      if (d?.status !== 'settled') continue;
      checked.settlement++;
      const own = d.ownAllocationWh;
      const peer = d.peerAllocationWh;
      if (own === null || peer === null || d.settledWh !== Math.min(own, peer)) {
        fail('settlement', `${who} ${id}: settled ${d.settledWh} Wh ≠ min(own ${own}, peer ${peer})`);
      }
      if (own !== null && own > d.energyWh)
        fail('settlement', `${who} ${id}: allocated ${own} Wh > traded ${d.energyWh} Wh`);
    }
    if (!due) continue;
    checked.settlement++;
    if (!p) continue; // reported by trade-agreement
    const b = p.deal;
    if (s.status !== 'settled' || b.status !== 'settled') {
      fail(
        'settlement',
        `${id} (slot ${at(s.slot)}, ${seller} → ${p.buyer}): seller ${s.status}, buyer ${b.status} after the heal`,
      );
      continue;
    }
    settled++;
    if (
      s.ownAllocationWh !== b.peerAllocationWh ||
      s.peerAllocationWh !== b.ownAllocationWh ||
      s.settledWh !== b.settledWh
    ) {
      fail(
        'settlement',
        `${id}: seller own/peer/settled ${s.ownAllocationWh}/${s.peerAllocationWh}/${s.settledWh}, buyer ${b.ownAllocationWh}/${b.peerAllocationWh}/${b.settledWh}`,
      );
    }
  }

  for (const id of report.wire.tradeConflicts)
    fail('wire-conflict', `trade ${id} was published with two different bodies`);
  checked['wire-conflict'] += report.wire.trades.length;

  // dead-letters
  for (const [reason, n] of Object.entries(report.deadLetters)) {
    checked['dead-letters'] += n;
    const sent = report.rogue[reason] ?? 0;
    if (NETWORK_REASONS.has(reason)) {
      if (n < sent)
        fail('dead-letters', `${n} ${reason} dead letters, but the rogue client alone sent ${sent}`);
    } else if (n !== sent) {
      fail('dead-letters', `${n} dead letters for ${reason}, the rogue client sent ${sent} such messages`);
    }
  }
  for (const [reason, sent] of Object.entries(report.rogue)) {
    if (sent > 0 && report.deadLetters[reason] === undefined) {
      fail('dead-letters', `the rogue client sent ${sent} ${reason} messages, none was dead-lettered`);
    }
  }

  if (rerun) {
    checked.determinism++;
    if (rerun.digest !== report.digest) {
      fail(
        'determinism',
        `two runs of seed ${report.seed} differ: ${report.digest.slice(0, 12)} vs ${rerun.digest.slice(0, 12)}`,
      );
    }
  }

  return {
    seed: report.seed,
    ok: perInvariant.size === 0,
    violations,
    checked,
    summary: {
      trades: report.trades,
      energyWh: report.energyWh,
      settled,
      rejects: report.rejects,
      published: report.wire.published,
      faults: report.injected,
      deadLetters: report.deadLetters,
    },
  };
}

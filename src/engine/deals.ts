import type { Deal, Durable } from './durable.js';

/** Helpers over the slot-sorted deal list. Updates return new arrays; the input is never changed. */

/** The settlement fields of a deal before its slot is allocated; re-sends start at `resendBaseMs`. */
export function unsettled(
  resendBaseMs: number,
): Pick<
  Deal,
  'ownAllocWh' | 'basis' | 'peerAllocWh' | 'settledWh' | 'settlementAcked' | 'settleNextAt' | 'settleDelayMs'
> {
  return {
    ownAllocWh: null,
    basis: null,
    peerAllocWh: null,
    settledWh: null,
    settlementAcked: false,
    settleNextAt: null,
    settleDelayMs: resendBaseMs,
  };
}

/** Inserts after every deal of the same or an earlier slot (so the list stays in slot, then creation order). */
export function insertDeal(deals: readonly Deal[], deal: Deal): Deal[] {
  let i = deals.length;
  while (i > 0 && deals[i - 1]!.slot > deal.slot) i--;
  return [...deals.slice(0, i), deal, ...deals.slice(i)];
}

/** Replaces deals[index]; re-sorts if its slot changed. */
export function replaceDeal(deals: readonly Deal[], index: number, deal: Deal): Deal[] {
  if (deals[index]!.slot === deal.slot) {
    const next = deals.slice();
    next[index] = deal;
    return next;
  }
  return insertDeal([...deals.slice(0, index), ...deals.slice(index + 1)], deal);
}

/** Index of the deal satisfying `pred`, searching newest first. */
export function findDealIndex(deals: readonly Deal[], pred: (d: Deal) => boolean): number {
  for (let i = deals.length - 1; i >= 0; i--) if (pred(deals[i]!)) return i;
  return -1;
}

/** Calls `fn` for every deal of `slot` (the list is slot-sorted, so only its tail is visited for recent slots). */
export function forSlot(deals: readonly Deal[], slot: number, fn: (d: Deal) => void): void {
  for (let i = deals.length - 1; i >= 0; i--) {
    const d = deals[i]!;
    if (d.slot < slot) return;
    if (d.slot === slot) fn(d);
  }
}

export function isTrade(d: Deal): boolean {
  return d.status === 'confirmed' || d.status === 'settled';
}

/** Σ traded Wh of one role in a slot. */
export function tradedWh(deals: readonly Deal[], slot: number, role: Deal['role']): number {
  let wh = 0;
  forSlot(deals, slot, (d) => {
    if (d.role === role && isTrade(d)) wh += d.energyWh;
  });
  return wh;
}

/** The home buys for this slot: a request in flight or a purchase. */
export function buysFor(d: Durable, slot: number): boolean {
  let found = false;
  forSlot(d.deals, slot, (x) => {
    if (x.role === 'buyer' && (x.status === 'requested' || isTrade(x))) found = true;
  });
  return found;
}

/** The home sells for this slot: an offer standing or anything sold. */
export function sellsFor(d: Durable, slot: number): boolean {
  const o = findOffer(d, slot);
  return o !== undefined && (o.status === 'open' || o.status === 'filled' || o.soldWh > 0);
}

export function findOffer(d: Durable, slot: number): Durable['offers'][number] | undefined {
  for (let i = d.offers.length - 1; i >= 0; i--) {
    const o = d.offers[i]!;
    if (o.slot === slot) return o;
    if (o.slot < slot) return undefined;
  }
  return undefined;
}

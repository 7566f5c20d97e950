import type { Durable, StoredAnswer } from './durable.js';
import type { EngineConfig } from './types.js';

/**
 * Keeps the durable state small: what is finished and older than keepMs goes (the host's trades table keeps
 * the long history). A confirmed trade is kept until keepMs after its slot ended, settled or not, so its
 * re-sends and its settlement have that long to complete.
 */
export function pruneHistory(d: Durable, cfg: EngineConfig, now: number): Durable {
  const { keepMs, slotMs } = cfg;
  const gone = (slot: number) => slot + slotMs + keepMs <= now;

  const deals = d.deals.some((x) => gone(x.slot)) ? d.deals.filter((x) => !gone(x.slot)) : d.deals;
  const offers = d.offers.some((o) => o.status !== 'open' && gone(o.slot))
    ? d.offers.filter((o) => o.status === 'open' || !gone(o.slot))
    : d.offers;
  const measured = d.measured.some((m) => gone(m.slot))
    ? d.measured.filter((m) => !gone(m.slot))
    : d.measured;

  let answers: Record<string, StoredAnswer> | null = null;
  for (const [key, a] of Object.entries(d.answers)) {
    if (a.slot + keepMs > now) continue;
    answers ??= { ...d.answers };
    delete answers[key];
  }

  if (deals === d.deals && offers === d.offers && measured === d.measured && answers === null) return d;
  return { ...d, deals, offers, measured, answers: answers ?? d.answers };
}

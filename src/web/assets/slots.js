// Offers, trades and settlements per slot: a small bar chart drawn as a table (readable without colour).

import { fmtEnergy } from './view.js';

const SLOTS_SHOWN = 8;
const COLUMNS = [
  { key: 'offered', label: 'Offered' },
  { key: 'sold', label: 'Sold' },
  { key: 'bought', label: 'Bought' },
  { key: 'settled', label: 'Settled' },
];
const BINDING = new Set(['confirmed', 'settled']);

/** Per slot: the largest offer, the energy sold and bought in binding trades, and what was settled. */
export function slotTotals(trades, offers) {
  const slots = new Map();
  const at = (slot) => {
    if (!slots.has(slot)) slots.set(slot, { slot, offered: 0, sold: 0, bought: 0, settled: 0 });
    return slots.get(slot);
  };
  for (const o of offers ?? []) at(o.slot).offered = Math.max(at(o.slot).offered, o.energyWh);
  for (const t of trades ?? []) {
    if (!BINDING.has(t.state)) continue;
    const s = at(t.slot);
    if (t.role === 'seller') s.sold += t.energyWh;
    else s.bought += t.energyWh;
    s.settled += t.settledWh ?? 0;
  }
  return [...slots.values()].sort((a, b) => a.slot - b.slot).slice(-SLOTS_SHOWN);
}

export function renderSlots(trades, offers) {
  const table = document.getElementById('slots');
  const rows = slotTotals(trades, offers);
  table.hidden = rows.length === 0;
  if (!rows.length) return;
  const max = Math.max(1, ...rows.flatMap((r) => COLUMNS.map((c) => r[c.key])));
  const head = document.createElement('tr');
  for (const label of ['Slot', ...COLUMNS.map((c) => c.label)]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = label;
    head.append(th);
  }
  const body = rows.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.slot = String(r.slot);
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = new Date(r.slot).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    tr.append(th);
    for (const c of COLUMNS) {
      const td = document.createElement('td');
      td.dataset.key = c.key;
      const bar = document.createElement('span');
      bar.className = `bar ${c.key}`;
      // CSSOM, not a style attribute: the page's Content-Security-Policy allows no inline styles.
      bar.style.width = `${(r[c.key] / max) * 100}%`;
      const value = document.createElement('span');
      value.className = 'v';
      value.textContent = r[c.key] ? fmtEnergy(r[c.key]) : '–';
      td.append(bar, value);
      tr.append(td);
    }
    return tr;
  });
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...body);
}

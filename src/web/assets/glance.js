// The first screen's three answers: is it healthy, what is it doing, is anything waiting to be sent.

import { fmtAge, fmtEnergy, fmtPower, fmtTime } from './view.js';

const $ = (id) => document.getElementById(id);

function text(el, value, className) {
  if (el.textContent !== value) el.textContent = value;
  if (className !== undefined && el.className !== className) el.className = className;
}

/** Health: "Working normally." or "Needs attention: …" with what needs it. */
function health(status) {
  const problems = [];
  if (status.link && !status.link.connected) problems.push('broker unreachable');
  const faulted = status.devices.filter((d) => d.state === 'fault').map((d) => d.id);
  if (faulted.length) problems.push(`faulted: ${faulted.join(', ')}`);
  if (status.health && !status.health.live) problems.push('not making progress');
  if (status.disk?.alert) problems.push(status.disk.alert);
  if (status.trading?.engineFaults > 0) problems.push('trading engine faults (see the log)');
  return problems;
}

/** Doing: the power flow and the trading state in one line. */
function doing(status) {
  const grid = status.snapshot?.quantities.gridPowerW;
  const flow =
    grid && grid.quality === 'good'
      ? grid.value < 0
        ? `Exporting ${fmtPower(-grid.value)}`
        : `Importing ${fmtPower(grid.value)}`
      : 'Grid power unknown';
  const t = status.trading;
  if (!t) return flow;
  if (t.state === 'off') return `${flow}; trading off`;
  const offer = t.offer;
  if (offer && offer.status === 'open' && offer.exp > Date.now())
    return `${flow}; offering ${fmtEnergy(offer.availableWh)} for ${fmtTime(offer.slot)}`;
  if (t.loadsOn.length) return `${flow}; running ${t.loadsOn.join(', ')} on bought energy`;
  const role = { seller: 'selling', buyer: 'buying', idle: 'trading, nothing to trade now' }[t.role];
  return `${flow}; ${role ?? 'trading'}`;
}

/** Waiting: what the outbox holds, and for how long. */
function waiting(status) {
  const o = status.outbox;
  if (!o) return { line: 'Outbox not open', cls: 'warn' };
  const n = Object.values(o.depth).reduce((a, b) => a + b, 0);
  const dead = o.deadLetters ?? 0;
  const deadText = dead > 0 ? `; ${dead} refused (dead letters)` : '';
  if (n === 0) return { line: `Nothing waiting to be sent${deadText}`, cls: dead > 0 ? 'warn' : 'ok' };
  const age = o.oldestAgeMs === null ? '' : `, oldest ${fmtAge(o.oldestAgeMs)}`;
  const promised = ['trade', 'trade-ack', 'reject', 'settlement'].reduce((a, c) => a + (o.depth[c] ?? 0), 0);
  const kind = promised > 0 ? ` (${promised} trade messages)` : '';
  const cls = o.oldestAgeMs !== null && o.oldestAgeMs > 60_000 ? 'warn' : '';
  return { line: `${n} message${n === 1 ? '' : 's'} waiting to be sent${kind}${age}${deadText}`, cls };
}

export function renderGlance(status) {
  const problems = health(status);
  text(
    $('summary'),
    problems.length ? `Needs attention: ${problems.join('; ')}` : 'Working normally.',
    problems.length ? 'bad' : 'ok',
  );
  text($('doing'), doing(status));
  const w = waiting(status);
  text($('waiting'), w.line, w.cls);
}

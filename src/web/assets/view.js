// Rendering of the status page: each function takes plain data from the API and updates one card.

const $ = (id) => document.getElementById(id);

export function fmtPower(w) {
  if (w === null || w === undefined || !Number.isFinite(w)) return '–';
  const a = Math.abs(w);
  return a >= 1000 ? `${(w / 1000).toFixed(2)} kW` : `${Math.round(w)} W`;
}

export function fmtEnergy(wh) {
  if (wh === null || wh === undefined) return '–';
  return wh >= 1000 ? `${(wh / 1000).toFixed(2)} kWh` : `${Math.round(wh)} Wh`;
}

export function fmtAge(ms) {
  if (ms === null || ms === undefined) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export const fmtTime = (ts) => (ts ? new Date(ts).toLocaleTimeString() : '–');
/** Hours and minutes: "14:02". */
export const fmtClock = (ts) =>
  ts ? new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '–';

function text(el, value) {
  if (el && el.textContent !== value) el.textContent = value;
}

function list(dl, rows) {
  dl.replaceChildren(
    ...rows.flatMap(([k, v, cls]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      if (cls) dd.className = cls;
      return [dt, dd];
    }),
  );
}

function quality(id, q) {
  const el = $(id);
  if (!q) return text(el, 'no value');
  el.className = `q ${q.quality}`;
  text(el, q.quality === 'good' ? '' : q.quality === 'stale' ? 'stale value' : 'faulted');
}

export function renderFlow(snapshot) {
  const q = snapshot?.quantities ?? {};
  const value = (x) => (x && x.value !== null ? x.value : null);
  text($('pv-value'), fmtPower(value(q.pvPowerW)));
  quality('pv-q', q.pvPowerW);
  const grid = value(q.gridPowerW);
  text($('grid-label'), grid === null ? 'Grid' : grid < 0 ? 'Exporting' : 'Importing');
  text($('grid-value'), fmtPower(grid === null ? null : Math.abs(grid)));
  quality('grid-q', q.gridPowerW);
  text($('load-value'), fmtPower(value(q.loadPowerW)));
  quality('load-q', q.loadPowerW);
  const battery = q.batteryPowerW;
  $('battery-tile').hidden = !battery;
  if (battery) {
    const soc = value(q.batterySocPct);
    text($('battery-value'), `${fmtPower(value(battery))}${soc === null ? '' : ` · ${Math.round(soc)} %`}`);
    quality('battery-q', battery);
  }
  text(
    $('snapshot-time'),
    snapshot ? `cycle ${snapshot.cycle} at ${fmtTime(snapshot.ts)}` : 'no reading yet',
  );
}

export function renderToday(today) {
  list($('today'), [
    ['Produced', fmtEnergy(today?.pvWh)],
    ['Used', fmtEnergy(today?.loadWh)],
    ['Bought from grid', fmtEnergy(today?.importWh)],
    ['Sold to grid', fmtEnergy(today?.exportWh)],
    ['Counted since', today?.fromTs ? fmtTime(today.fromTs) : '–'],
  ]);
}

export function renderLink(link) {
  const el = $('link-state');
  if (!link) {
    el.className = 'state warn';
    text(el, 'No broker configured');
    list($('link'), []);
    return;
  }
  const up = link.connected;
  const fallback = link.mode === 'fallback-leader' || link.mode === 'fallback-member';
  el.className = `state ${up && !fallback ? (link.breaker === 'closed' ? 'ok' : 'warn') : up ? 'warn' : 'bad'}`;
  text(
    el,
    fallback
      ? `No broker: trading through ${link.mode === 'fallback-leader' ? 'this home' : link.leader}'s Pi since ${fmtClock(link.modeSince)}`
      : up
        ? `Connected${link.breaker === 'closed' ? '' : ` (publishing ${link.breaker})`}`
        : 'Broker unreachable',
  );
  list($('link'), [
    [
      'Broker',
      fallback
        ? `${link.broker ?? '–'} (the zone's fallback broker, term ${link.epoch ?? '–'})`
        : `${link.broker ?? '–'}${up && !link.onPrimary ? ' (failover)' : ''}`,
    ],
    [
      'Protocol',
      link.protocolVersion === null
        ? '–'
        : `MQTT ${link.protocolVersion === 5 ? '5' : '3.1.1'}${link.featuresOff.length ? ` (off: ${link.featuresOff.join(', ')})` : ''}`,
    ],
    ['Breaker', link.breaker],
    [
      'Last error',
      link.lastError ? `${link.lastError} (${fmtTime(link.lastErrorTs)})` : 'none',
      link.lastError ? 'warn' : '',
    ],
    ['Reconnects', String(link.reconnects)],
    ['Last acknowledged', fmtTime(link.lastSuccessTs)],
  ]);
}

export function renderOutbox(outbox, deadLetters) {
  if (!outbox) return list($('outbox'), [['Outbox', 'not open']]);
  const waiting = Object.entries(outbox.depth).filter(([, n]) => n > 0);
  const drops = Object.entries(outbox.drops).filter(([, n]) => n > 0);
  list($('outbox'), [
    [
      'Waiting',
      waiting.length ? waiting.map(([c, n]) => `${c} ${n}`).join(', ') : 'nothing',
      waiting.length ? '' : 'ok',
    ],
    ['Oldest', outbox.oldestAgeMs === null ? '–' : fmtAge(outbox.oldestAgeMs)],
    ['Dropped unsent', drops.length ? drops.map(([r, n]) => `${r} ${n}`).join(', ') : 'none'],
    ['Retries', String(outbox.retries)],
    [
      'Dead letters',
      String(deadLetters ?? outbox.deadLetters),
      (deadLetters ?? outbox.deadLetters) > 0 ? 'warn' : '',
    ],
  ]);
}

export function renderDevices(devices) {
  const body = $('devices').tBodies[0];
  body.replaceChildren(
    ...devices.map((d) => {
      const tr = document.createElement('tr');
      tr.dataset.device = d.id;
      const state = d.state === 'ok' ? 'ok' : d.state === 'fault' ? 'bad' : 'warn';
      const cells = [
        [`${d.id}`, '', `${d.profile} · ${d.transport}`],
        [d.state === 'fault' ? `fault${d.breaker === 'open' ? ' (paused)' : ''}` : d.state, state],
        [d.latencyMs === null ? '–' : `${Math.round(d.latencyMs * 10) / 10} ms`, ''],
        [d.lastError ?? '', d.lastError ? 'bad' : ''],
      ];
      for (const [value, cls, title] of cells) {
        const td = document.createElement('td');
        td.textContent = value;
        if (cls) td.className = cls;
        if (title) td.title = title;
        tr.append(td);
      }
      return tr;
    }),
  );
}

/** Trading on or off (and why, with the fix), the role, the net power and the offer being traded. */
export function renderTrading(trading) {
  const el = $('trading-state');
  if (!trading) {
    el.className = 'state warn';
    text(el, 'Trading: not available');
    list($('trading'), []);
    return;
  }
  if (trading.state === 'off') {
    el.className = `state ${trading.off === 'disabled' ? '' : 'warn'}`;
    text(el, capital(trading.reason ?? 'trading off'));
    list(
      $('trading'),
      trading.warnings.map((w) => ['Warning', w, 'warn']),
    );
    return;
  }
  el.className = 'state ok';
  const role = { seller: 'selling', buyer: 'buying', idle: 'idle' }[trading.role] ?? 'idle';
  text(el, `Trading on: ${role}`);
  const o = trading.offer;
  const rows = [
    [
      trading.netW !== null && trading.netW < 0 ? 'Deficit' : 'Surplus',
      trading.netW === null ? 'unknown' : fmtPower(Math.abs(trading.netW)),
    ],
    ['Next slot', fmtTime(trading.tradingSlot)],
    [
      'Offer',
      o
        ? `${fmtEnergy(o.availableWh)} left of ${fmtEnergy(o.energyWh)} at ${o.priceCentsPerKwh} c/kWh for ${fmtTime(o.slot)} (${o.status})`
        : 'none',
    ],
  ];
  if (trading.loadsOn.length) rows.push(['Loads on', trading.loadsOn.join(', ')]);
  const a = trading.actuation;
  const failures = a ? a.relayFailures + a.exportLimitFailures : 0;
  if (failures > 0) rows.push(['Switching failed', `${failures} (last: ${a.lastError ?? '?'})`, 'bad']);
  for (const w of trading.warnings) rows.push(['Warning', w, 'warn']);
  list($('trading'), rows);
}

const capital = (s) => s.charAt(0).toUpperCase() + s.slice(1);

export function renderTrades(trades, offers) {
  const box = $('trades');
  if (!trades?.length && !offers?.length) {
    box.replaceChildren(
      Object.assign(document.createElement('p'), {
        className: 'muted',
        textContent: 'No offers or trades yet today.',
      }),
    );
    return;
  }
  const ul = document.createElement('ul');
  for (const o of offers ?? []) {
    const li = document.createElement('li');
    li.dataset.offer = o.id;
    li.textContent = `Offer for ${fmtTime(o.slot)}: ${fmtEnergy(o.remainingWh)} left of ${fmtEnergy(o.energyWh)} at ${o.priceCentsPerKwh} c/kWh — ${o.state}`;
    ul.append(li);
  }
  for (const t of trades ?? []) {
    const li = document.createElement('li');
    li.dataset.trade = t.id;
    li.className = t.state === 'rejected' || t.state === 'expired' ? 'muted' : '';
    li.textContent = `${t.role === 'seller' ? 'Sold' : 'Bought'} ${fmtEnergy(t.energyWh)} ${t.role === 'seller' ? 'to' : 'from'} ${t.counterparty} for ${fmtTime(t.slot)} at ${t.priceCentsPerKwh} c/kWh — ${t.state}`;
    ul.append(li);
  }
  box.replaceChildren(ul);
}

export function renderWarnings(warnings) {
  const ul = $('warnings');
  if (!warnings.length) {
    ul.replaceChildren(
      Object.assign(document.createElement('li'), { className: 'muted', textContent: 'None.' }),
    );
    return;
  }
  ul.replaceChildren(
    ...warnings.slice(0, 20).map((w) =>
      Object.assign(document.createElement('li'), {
        className: w.level === 'warn' ? 'warn' : '',
        textContent: `${fmtTime(w.ts)} · ${w.source}: ${w.message}`,
      }),
    ),
  );
}

/** Which parts are simulated (GPIO and I2C devices without such hardware), if any: never the whole home. */
function simulatedText(status) {
  const parts = status.simulatedParts ?? [];
  return parts.length ? ` · simulated: ${parts.join(', ')}` : '';
}

export function renderFooter(status) {
  text(
    $('footer'),
    `${status.home.zone}/${status.home.id} · version ${status.version}${simulatedText(status)} · up ${fmtAge(status.uptimeS * 1000)}`,
  );
  text($('home'), status.home.id);
}

export function renderConnection(state, since) {
  document.body.dataset.conn = state;
  const messages = {
    connecting: 'Connecting to the controller…',
    live: 'Live',
    reconnecting: 'Connection lost, reconnecting…',
    unreachable: `The controller cannot be reached${since ? ` (last contact ${fmtTime(since)})` : ''}. Values shown are old.`,
  };
  text($('conn'), messages[state]);
}

export function renderRelays(relays, canChange, onSet) {
  const box = $('relays');
  if (!relays.length) {
    box.replaceChildren(
      Object.assign(document.createElement('p'), { className: 'muted', textContent: 'No switchable loads.' }),
    );
    return;
  }
  box.replaceChildren(
    ...relays.map((r) => {
      const row = document.createElement('div');
      row.className = 'relay';
      row.dataset.relay = r.id;
      const label = document.createElement('span');
      const level = r.on === null ? 'unknown' : r.on ? 'on' : 'off';
      label.textContent = `${r.id}${r.loadW ? ` (${fmtPower(r.loadW)})` : ''}: ${level}, ${r.mode === 'auto' ? 'automatic' : 'set by hand'}`;
      if (r.state === 'fault') label.className = 'bad';
      row.append(label);
      if (canChange) {
        for (const mode of ['auto', 'on', 'off']) {
          const b = document.createElement('button');
          b.type = 'button';
          b.textContent = mode;
          b.setAttribute('aria-pressed', String(r.mode === mode));
          b.addEventListener('click', () => onSet(r.id, mode));
          row.append(b);
        }
      }
      return row;
    }),
  );
}

// The status page: one EventSource for everything live, a staleness check, and a plain message when
// the controller cannot be reached. The browser reconnects by itself; a stream that went silent
// (a frozen daemon, a sleeping phone) is dropped and opened again here.
import { PowerChart } from './chart.js';
import { renderGlance } from './glance.js';
import { renderSlots } from './slots.js';
import {
  renderConnection,
  renderDevices,
  renderFlow,
  renderFooter,
  renderLink,
  renderOutbox,
  renderRelays,
  renderToday,
  renderTrades,
  renderTrading,
  renderWarnings,
} from './view.js';

/** The daemon sends a heartbeat every 5 s: this much silence means it is gone or frozen. */
const SILENCE_MS = 12_000;
/** Reconnecting longer than this is shown as "cannot be reached". */
const UNREACHABLE_AFTER_MS = 4_000;

let status = null;
let source = null;
let lastMessage = 0;
let lostSince = 0;
const chart = new PowerChart(document.getElementById('chart'));

function renderAll() {
  if (!status) return;
  renderFooter(status);
  renderFlow(status.snapshot);
  renderToday(status.today);
  renderLink(status.link);
  renderOutbox(status.outbox);
  renderDevices(status.devices);
  renderTrading(status.trading);
  renderTrades(status.trades, status.offers);
  renderSlots(status.trades, status.offers);
  renderWarnings(status.warnings);
  renderRelays(status.relays, status.web?.stateChanges, setRelay);
  renderGlance(status);
}

const handlers = {
  status(data) {
    status = data;
    renderAll();
  },
  snapshot(data) {
    if (!status) return;
    status.snapshot = data.snapshot;
    status.today = data.today;
    status.relays = data.relays;
    status.trading = data.trading;
    status.trades = data.trades;
    status.offers = data.offers;
    renderFlow(data.snapshot);
    renderToday(data.today);
    renderRelays(status.relays, status.web?.stateChanges, setRelay);
    renderTrading(status.trading);
    renderTrades(status.trades, status.offers);
    renderSlots(status.trades, status.offers);
    renderGlance(status);
    chart.push(data.snapshot);
  },
  link(data) {
    if (!status) return;
    status.link = data;
    renderLink(data);
    renderGlance(status);
  },
  outbox(data) {
    if (!status) return;
    status.outbox = data;
    renderOutbox(data);
    renderGlance(status);
  },
  devices(data) {
    if (!status) return;
    status.devices = data;
    renderDevices(data);
    renderGlance(status);
  },
  warning(data) {
    if (!status) return;
    status.warnings = [data, ...status.warnings].slice(0, 100);
    renderWarnings(status.warnings);
  },
  heartbeat(data) {
    if (!status) return;
    status.health = data.health;
    renderGlance(status);
  },
};

function connect() {
  source?.close();
  source = new EventSource('/api/events');
  lastMessage = Date.now();
  source.addEventListener('open', () => {
    lostSince = 0;
    renderConnection('live');
  });
  source.addEventListener('error', () => {
    if (!lostSince) lostSince = Date.now();
    renderConnection('reconnecting');
    // A refused stream (HTTP error, too many clients) is closed for good by the browser: retry here.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  });
  for (const [name, handle] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => {
      lastMessage = Date.now();
      if (lostSince) {
        lostSince = 0;
        renderConnection('live');
      }
      handle(JSON.parse(e.data));
    });
  }
}

setInterval(() => {
  const now = Date.now();
  if (now - lastMessage > SILENCE_MS) {
    if (!lostSince) lostSince = lastMessage;
    connect();
  }
  if (lostSince && now - lostSince > UNREACHABLE_AFTER_MS) renderConnection('unreachable', lastMessage);
  chart.flush();
}, 1000);

async function setRelay(id, mode) {
  let token = sessionStorage.getItem('powerdeal-token');
  if (!token) {
    token = prompt('Access token (from /etc/powerdeal/web.token on the controller):');
    if (!token) return;
  }
  const res = await fetch(`/api/relays/${encodeURIComponent(id)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ mode }),
  });
  if (res.status === 401) {
    sessionStorage.removeItem('powerdeal-token');
    alert('Wrong token.');
    return;
  }
  sessionStorage.setItem('powerdeal-token', token);
  if (!res.ok) {
    alert((await res.json().catch(() => ({}))).error ?? `HTTP ${res.status}`);
    return;
  }
  const view = await res.json();
  status.relays = status.relays.map((r) => (r.id === view.id ? view : r));
  renderRelays(status.relays, status.web?.stateChanges, setRelay);
}

renderConnection('connecting');
connect();
// Without the history the chart still fills from the live stream; say why it starts empty.
chart.load().catch((err) => console.warn('chart history unavailable:', err.message));

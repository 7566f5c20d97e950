import type { QuantityName, Snapshot } from '../core/quantities.js';
import type { LinkStatus } from '../link/link.js';
import type { RelayView } from '../views/relays.js';
import type { TradeView } from '../views/trades.js';
import type { LINK_MODES, TRADING_STATES } from './entities.js';

/** What the state document reads of the status's trading section. */
export interface TradingView {
  state: 'on' | 'off';
  role: 'seller' | 'buyer' | 'idle' | null;
  offer: {
    slot: number;
    availableWh: number;
    energyWh: number;
    priceCentsPerKwh: number;
    status: string;
  } | null;
}

export interface OrderDetail {
  kind: 'offer' | 'buy' | 'sell';
  /** Start of the slot, ISO 8601. */
  slot: string;
  energy_wh: number;
  price_cents_per_kwh: number;
  counterparty?: string;
}

/** The one retained state document every entity reads (docs/home-assistant.md lists its fields). */
export interface HaState {
  solar_w: number | null;
  solar_kwh: number | null;
  grid_w: number | null;
  grid_import_kwh: number | null;
  grid_export_kwh: number | null;
  load_w: number | null;
  battery_w: number | null;
  battery_pct: number | null;
  enclosure_c: number | null;
  trading: (typeof TRADING_STATES)[number];
  sold_today_kwh: number;
  bought_today_kwh: number;
  link: (typeof LINK_MODES)[number];
  /** One line for the active order, `none` without one. */
  order: string;
  order_detail: OrderDetail | Record<string, never>;
  relays: Record<string, { state: 'ON' | 'OFF' | null; mode: RelayView['mode'] }>;
}

export interface StateInputs {
  snapshot: Snapshot | undefined;
  trading: TradingView | undefined;
  link: Pick<LinkStatus, 'connected' | 'onPrimary'> | null;
  /** Today's trades (since local midnight). */
  trades: readonly TradeView[];
  relays: readonly RelayView[];
}

/** A good value, else null: Home Assistant must never show a stale or faulted value as current. */
function good(s: Snapshot | undefined, name: QuantityName, scale = 1, digits = 1): number | null {
  const q = s?.quantities[name];
  if (q?.quality !== 'good' || q.value === null) return null;
  const f = 10 ** digits;
  return Math.round((q.value / scale) * f) / f;
}

const kwh = (wh: number) => Math.round(wh) / 1000;

function tradingState(t: TradingView | undefined): HaState['trading'] {
  if (!t || t.state === 'off') return 'off';
  return t.role === 'seller' ? 'selling' : t.role === 'buyer' ? 'buying' : 'idle';
}

function linkMode(link: StateInputs['link']): HaState['link'] {
  if (!link) return 'none';
  if (!link.connected) return 'offline';
  return link.onPrimary ? 'primary' : 'fallback';
}

const slotText = (slot: number) =>
  new Date(slot).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });

/** The open offer first, else the nearest confirmed trade not yet settled. */
function activeOrder(inputs: StateInputs): { text: string; detail: OrderDetail | Record<string, never> } {
  const offer = inputs.trading?.offer;
  if (offer && offer.status === 'open') {
    return {
      text: `offer ${offer.availableWh} Wh at ${offer.priceCentsPerKwh} c/kWh for ${slotText(offer.slot)}`,
      detail: {
        kind: 'offer',
        slot: new Date(offer.slot).toISOString(),
        energy_wh: offer.availableWh,
        price_cents_per_kwh: offer.priceCentsPerKwh,
      },
    };
  }
  const trade = inputs.trades
    .filter((t) => t.state === 'confirmed')
    .reduce<TradeView | undefined>((a, t) => (a === undefined || t.slot < a.slot ? t : a), undefined);
  if (!trade) return { text: 'none', detail: {} };
  const kind = trade.role === 'buyer' ? 'buy' : 'sell';
  return {
    text: `${kind === 'buy' ? 'buying' : 'selling'} ${trade.energyWh} Wh ${kind === 'buy' ? 'from' : 'to'} ${trade.counterparty} for ${slotText(trade.slot)}`,
    detail: {
      kind,
      slot: new Date(trade.slot).toISOString(),
      energy_wh: trade.energyWh,
      price_cents_per_kwh: trade.priceCentsPerKwh,
      counterparty: trade.counterparty,
    },
  };
}

export function homeState(inputs: StateInputs): HaState {
  const s = inputs.snapshot;
  const traded = (role: TradeView['role']) =>
    kwh(
      inputs.trades
        .filter((t) => t.role === role && (t.state === 'confirmed' || t.state === 'settled'))
        .reduce((sum, t) => sum + t.energyWh, 0),
    );
  const order = activeOrder(inputs);
  return {
    solar_w: good(s, 'pvPowerW', 1, 0),
    solar_kwh: good(s, 'pvEnergyWh', 1000, 3),
    grid_w: good(s, 'gridPowerW', 1, 0),
    grid_import_kwh: good(s, 'gridImportWh', 1000, 3),
    grid_export_kwh: good(s, 'gridExportWh', 1000, 3),
    load_w: good(s, 'loadPowerW', 1, 0),
    battery_w: good(s, 'batteryPowerW', 1, 0),
    battery_pct: good(s, 'batterySocPct', 1, 0),
    enclosure_c: good(s, 'enclosureTempC', 1, 1),
    trading: tradingState(inputs.trading),
    sold_today_kwh: traded('seller'),
    bought_today_kwh: traded('buyer'),
    link: linkMode(inputs.link),
    order: order.text,
    order_detail: order.detail,
    relays: Object.fromEntries(
      inputs.relays.map((r) => [r.id, { state: r.on === null ? null : r.on ? 'ON' : 'OFF', mode: r.mode }]),
    ),
  };
}

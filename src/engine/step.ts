import { errorText } from '../core/errors.js';
import { isValidId } from '../core/ids.js';
import type { Snapshot } from '../core/quantities.js';
import { TRADING_BODY_SCHEMAS } from '../protocol/trading.js';
import { actuateLoads, limitExport } from './actuation.js';
import { handleAccept } from './authority.js';
import { buyerTick, dropMarketOffer, handleOffer, handleReject, handleTrade, pruneMarket } from './buyer.js';
import { goodValue, newContext, type StepContext } from './context.js';
import type { Durable } from './durable.js';
import { pruneHistory } from './history.js';
import { answerOfferRequest, requestOffers } from './offer-sync.js';
import { expireOffers, sellerTick } from './seller.js';
import { handleAck, handleSettlement, recordMeter, settleDue } from './settlement.js';
import { tradingSlot } from './slots.js';
import { gridEstimate, observeGridPower } from './smoothing.js';
import { durableOf, toState, type Volatile, volatileOf } from './state.js';
import { fireTimers, wakeAt } from './timers.js';
import type { EngineConfig, EngineEvent, EngineState, InboundMessage, StepResult } from './types.js';

/**
 * One engine step. Never throws: an input that does not fit (a malformed body, a message from this home
 * itself, a sender id that breaks the id rule, a time that is not a number) changes nothing, and an
 * exception inside the engine, which is a bug and not a bad input, comes back as `fault` with the state
 * unchanged, for the host to count and log. The input state is never modified; an unchanged durable part
 * is returned as the same object.
 */
export function step(cfg: EngineConfig, state: EngineState, event: EngineEvent, now: number): StepResult {
  if (!Number.isFinite(now)) return { state, commands: [] };
  try {
    return dispatch(cfg, state, event, now);
  } catch (error) {
    return { state, commands: [], fault: { event: event.kind, text: errorText(error), error } };
  }
}

function dispatch(cfg: EngineConfig, state: EngineState, event: EngineEvent, now: number): StepResult {
  const prev = durableOf(state);
  let d = prev;
  let vol: Volatile = { ...volatileOf(state), now };
  const ctx = newContext(cfg, now, prev.counter);
  let timersRan = false;
  switch (event.kind) {
    case 'start':
      // After a restart the relays are at their safe state (off) and may switch on at once.
      vol = {
        ...vol,
        loads: cfg.flexLoads.map(() => ({ on: false, since: null })),
        exportLimitPct: undefined,
        wakeAt: 0,
        emptyScan: null,
      };
      break;
    case 'tick': {
      const r = tick(d, vol, ctx, event.snapshot);
      d = r.d;
      vol = r.vol;
      timersRan = r.timersRan;
      break;
    }
    case 'message': {
      const r = message(d, vol, ctx, event.message);
      d = r.d;
      vol = r.vol;
      break;
    }
    case 'offer-withdrawn':
      vol = dropMarketOffer(vol, event.home);
      break;
    case 'connected':
      requestOffers(d, ctx);
      break;
  }
  if (ctx.counter !== d.counter) d = { ...d, counter: ctx.counter };
  vol.grid = gridEstimate(vol, cfg, now);
  if (timersRan || d.deals !== prev.deals) vol = { ...vol, wakeAt: wakeAt(d, cfg, now) };
  const durable = d === prev ? state.durable : d;
  return { state: toState(durable as Durable, vol), commands: ctx.commands };
}

function tick(
  d0: Durable,
  vol0: Volatile,
  ctx: StepContext,
  snapshot: Snapshot,
): { d: Durable; vol: Volatile; timersRan: boolean } {
  const { cfg, now } = ctx;
  let d = d0;
  let vol = vol0;
  const gridW = goodValue(snapshot, 'gridPowerW');
  if (gridW !== null) vol = observeGridPower(vol, cfg, gridW, now);
  d = recordMeter(d, ctx, snapshot);

  const timersRan = now >= vol.wakeAt;
  if (timersRan) {
    d = fireTimers(d, ctx);
    d = settleDue(d, vol, ctx);
    d = pruneHistory(d, cfg, now);
    vol = pruneMarket(vol, now);
  }
  d = expireOffers(d, now);

  const grid = gridEstimate(vol, cfg, now);
  const slot = tradingSlot(now, cfg.slotMs);
  d = sellerTick(d, ctx, grid, slot);
  const bought = buyerTick(d, vol, ctx, grid, slot);
  d = bought.d;
  vol = actuateLoads(d, bought.vol, ctx);
  vol = limitExport(d, vol, ctx, snapshot);
  return { d, vol, timersRan };
}

function message(
  d: Durable,
  vol: Volatile,
  ctx: StepContext,
  m: InboundMessage,
): { d: Durable; vol: Volatile } {
  if (!isValidId(m.from) || m.from === ctx.cfg.homeId) return { d, vol };
  if (!TRADING_BODY_SCHEMAS[m.type]?.safeParse(m.body).success) return { d, vol };
  switch (m.type) {
    case 'offer':
      return { d, vol: handleOffer(vol, ctx, m.from, m.id, m.exp, m.body) };
    case 'offer-request':
      answerOfferRequest(d, ctx, m.from, m.body);
      return { d, vol };
    case 'accept':
      return { d: handleAccept(d, ctx, m.from, m.id, m.body), vol };
    case 'trade':
      return { d: handleTrade(d, ctx, m.from, m.id, m.body), vol };
    case 'reject':
      return handleReject(d, vol, ctx, m.from, m.body);
    case 'ack':
      return { d: handleAck(d, ctx, m.from, m.body), vol };
    case 'settlement':
      return { d: handleSettlement(d, ctx, m.from, m.id, m.body), vol };
  }
}

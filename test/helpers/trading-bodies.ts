import type {
  AcceptBody,
  AckBody,
  OfferBody,
  OfferRequestBody,
  RejectBody,
  SettlementBody,
  TradeBody,
} from '../../src/protocol/trading.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';

/**
 * Valid trading bodies for tests that need a well-formed offer, accept, trade, reject, ack or settlement
 * without caring about its figures. Every call makes fresh acceptId/tradeId UUIDv7s unless overridden.
 * Overrides are applied as given and not checked, so a test can also build a deliberately bad body.
 */

export interface TradingBodies {
  offer: OfferBody;
  'offer-request': OfferRequestBody;
  accept: AcceptBody;
  trade: TradeBody;
  reject: RejectBody;
  ack: AckBody;
  settlement: SettlementBody;
}
export type TradingType = keyof TradingBodies;

export { TRADING_TYPES } from '../../src/protocol/trading.js';

/** The slot the samples trade in: 15 minutes from 2030-06-01 12:00 UTC. */
export const SAMPLE_SLOT = Date.UTC(2030, 5, 1, 12, 0, 0);
export const SAMPLE_SLOT_MS = 15 * 60_000;
export const SAMPLE_SELLER = 'seller-1';
export const SAMPLE_BUYER = 'buyer-1';

const defaults: { [T in TradingType]: () => TradingBodies[T] } = {
  offer: () => ({
    slot: SAMPLE_SLOT,
    slotMs: SAMPLE_SLOT_MS,
    version: 1,
    energyWh: 1000,
    availableWh: 1000,
    priceCentsPerKwh: 12,
    reserveWh: 50,
  }),
  'offer-request': () => ({ slot: SAMPLE_SLOT, slotMs: SAMPLE_SLOT_MS }),
  accept: () => ({
    acceptId: uuidv7(),
    seller: SAMPLE_SELLER,
    slot: SAMPLE_SLOT,
    version: 1,
    energyWh: 500,
    minWh: 100,
    maxPriceCentsPerKwh: 15,
  }),
  trade: () => ({
    tradeId: uuidv7(),
    acceptId: uuidv7(),
    seller: SAMPLE_SELLER,
    buyer: SAMPLE_BUYER,
    slot: SAMPLE_SLOT,
    slotMs: SAMPLE_SLOT_MS,
    version: 1,
    energyWh: 500,
    priceCentsPerKwh: 12,
    confirmedAt: SAMPLE_SLOT - 5 * 60_000,
  }),
  reject: () => ({
    acceptId: uuidv7(),
    seller: SAMPLE_SELLER,
    slot: SAMPLE_SLOT,
    reason: 'filled',
    availableWh: 0,
    version: 1,
  }),
  ack: () => ({ of: 'trade', tradeId: uuidv7() }),
  settlement: () => ({
    tradeId: uuidv7(),
    slot: SAMPLE_SLOT,
    role: 'seller',
    tradedWh: 500,
    allocatedWh: 480,
    basis: 'meter',
  }),
};

/** A valid body of `type` unless the overrides make it invalid: `sampleBody('accept', { energyWh: 800 })`. */
export function sampleBody<T extends TradingType>(
  type: T,
  overrides: Partial<TradingBodies[T]> = {},
): TradingBodies[T] {
  return { ...defaults[type](), ...overrides };
}

export * from './backoff.js';
export * from './broker-choice.js';
export * from './inbox.js';
export * from './link.js';
export type { LinkStore } from './link-store.js';
export * from './reason-codes.js';
export * from './telemetry.js';

export * from './bodies.js';
export * from './canonical.js';
export * from './envelope.js';
export * from './messages.js';
export * from './topics.js';
export * from './trading.js';
export * from './uuidv7.js';

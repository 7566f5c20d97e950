// The module contract lives with the other views; the trading module imports it from here.
export type { ServiceModule } from '../views/module.js';

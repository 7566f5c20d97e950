import { controlExtension } from '../control/extension.js';
import { jobsExtension } from './jobs.js';
import type { ServiceModule } from './module.js';
import type { Service } from './service.js';

/**
 * Modules that plug into the service after the core (store, hardware, cycle, link, panel) and before
 * the web server. Each gets the service and returns a module with start/stop; it reaches the core
 * parts through the service's accessors once they are running.
 */
export type Extension = (service: Service) => ServiceModule;

export const DEFAULT_EXTENSIONS: readonly Extension[] = [controlExtension, jobsExtension];

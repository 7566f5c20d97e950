import { controlExtension } from '../control/extension.js';
import { homeAssistantExtension } from '../homeassistant/extension.js';
import type { Extension } from '../views/extension.js';
import { jobsExtension } from './jobs.js';

/**
 * The modules that plug into the service after the core (store, hardware, cycle, link, panel) and
 * before the web server; each receives an ExtensionContext (src/views/extension.ts) when it starts.
 */
export const DEFAULT_EXTENSIONS: readonly Extension[] = [
  controlExtension,
  jobsExtension,
  homeAssistantExtension,
];

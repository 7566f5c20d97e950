import type { Extension } from '../views/extension.js';

/**
 * Home Assistant MQTT discovery (docs/home-assistant.md). Without `homeassistant.broker` nothing of it
 * is loaded; with it, the service announces its entities there (`enabled: true`) or removes them
 * (`enabled: false`). A broker that cannot be reached never stops the service: the client keeps trying.
 */
export const homeAssistantExtension: Extension = {
  name: 'homeassistant',
  start: async (ctx) => {
    const ha = ctx.config.homeassistant;
    const broker = ha.broker;
    if (broker === undefined) return { stop: async () => undefined };
    if (ha.enabled) {
      const { startDiscovery } = await import('./bridge.js');
      return startDiscovery(ctx, { ...ha, broker });
    }
    const { startRemoval } = await import('./remove.js');
    return startRemoval(ctx, { ...ha, broker });
  },
};

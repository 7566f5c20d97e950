import type { MqttClient } from 'mqtt';
import type { HomeAssistantConfig } from '../config/schema.js';
import { errorText } from '../core/errors.js';
import { QUANTITY_NAMES } from '../core/quantities.js';
import type { ExtensionContext, ExtensionInstance } from '../views/extension.js';
import { connectHomeAssistant } from './connect.js';
import { discoveryEntities } from './entities.js';
import { haTopics } from './topics.js';

/**
 * Discovery turned off (`enabled: false` with a broker): removes every entity of this home from Home
 * Assistant by clearing its retained configs (an empty retained payload), and the state and availability
 * with them, then leaves the broker. What is cleared: every config this home would announce with any
 * quantity and the configured relays, and every retained config found under its node (an entity of an
 * earlier config). Runs in the background until done; the broker may come later.
 */
export function startRemoval(
  ctx: ExtensionContext,
  ha: HomeAssistantConfig & { broker: string },
): ExtensionInstance {
  const { log } = ctx;
  const topics = haTopics(ha.prefix, ctx.config.home);
  const client: MqttClient = connectHomeAssistant(ha, ctx.config.home, log);
  const everything = discoveryEntities({
    home: ctx.config.home,
    version: ctx.version,
    quantities: QUANTITY_NAMES,
    relays: ctx.relays.list().map((r) => r.id),
    topics,
  }).map((e) => topics.config(e.component, e.key));
  const found = new Set<string>();
  // Retained messages of a subscription come before a message published after it: once this marker is
  // back, every retained config of the node has been seen.
  const marker = `${topics.state}/sweep-${ctx.clock.now()}`;
  let done = false;
  let finished: () => void = () => undefined;
  const over = new Promise<void>((resolve) => {
    finished = resolve;
  });

  client.on('message', (topic, payload, packet) => {
    if (topic === marker) void clear();
    else if (packet.retain && payload.length > 0) found.add(topic);
  });
  client.on('connect', () => {
    void (async () => {
      try {
        await client.subscribeAsync([topics.configFilter, marker], { qos: 1 });
        await client.publishAsync(marker, '', { qos: 1 });
      } catch (err) {
        log.warn({ err: errorText(err) }, 'homeassistant: could not look for the entities to remove');
      }
    })();
  });

  const clear = async () => {
    if (done) return;
    const configs = new Set([...everything, ...found]);
    try {
      await Promise.all(
        [...configs, topics.state, topics.availability].map((t) =>
          client.publishAsync(t, '', { qos: 1, retain: true }),
        ),
      );
      done = true;
      log.info({ removed: found.size, broker: ha.broker }, 'homeassistant: discovery off, entities removed');
      await client.endAsync();
      finished();
    } catch (err) {
      // The next connection tries again.
      log.warn({ err: errorText(err) }, 'homeassistant: removing the entities failed');
    }
  };

  return {
    async stop() {
      if (!done) await client.endAsync(true);
      finished();
      await over;
    },
  };
}

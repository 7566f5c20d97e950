import type { MqttClient } from 'mqtt';
import type { HomeAssistantConfig } from '../config/schema.js';
import { setRelay } from '../control/ops/relays.js';
import { sleepOn, type TimerHandle } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import type { QuantityName } from '../core/quantities.js';
import type { ExtensionContext, ExtensionInstance } from '../views/extension.js';
import type { RelayMode } from '../views/relays.js';
import { connectHomeAssistant } from './connect.js';
import { discoveryEntities } from './entities.js';
import { homeState, type TradingView } from './state.js';
import { haTopics } from './topics.js';

/** The state document is published this often (and at once after a relay changed). */
const STATE_INTERVAL_MS = 10_000;
/** Home Assistant came online: announce again after a random wait up to this, so homes spread out. */
const BIRTH_JITTER_MS = 3_000;

/**
 * Home Assistant discovery while enabled: on every connection the entities' configs (retained, QoS 1),
 * `online` on the availability topic (`offline` is the will) and the state document; again when Home
 * Assistant announces itself `online`. A retained config of this home that is not among today's entities
 * (a relay removed from the config) is cleared. Commands go through the page's relay operation with the
 * loads' hold times.
 */
export function startDiscovery(
  ctx: ExtensionContext,
  ha: HomeAssistantConfig & { broker: string },
): ExtensionInstance {
  const { clock, log } = ctx;
  const home = ctx.config.home;
  const topics = haTopics(ha.prefix, home);
  const client: MqttClient = connectHomeAssistant(ha, home, log, {
    topic: topics.availability,
    payload: 'offline',
  });
  /** Config topic → payload of the entities announced on this connection. */
  const wanted = new Map<string, string>();
  let announced = false;
  let shape = '';
  let lastStateTs = 0;
  let birthTimer: TimerHandle | null = null;

  const publish = (topic: string, payload: string, retain = true) =>
    client.publishAsync(topic, payload, { qos: 1, retain }).catch((err: unknown) => {
      log.warn({ topic, err: errorText(err) }, 'homeassistant: publish failed');
    });

  const quantities = () => Object.keys(ctx.cycle.latest()?.quantities ?? {}).sort() as QuantityName[];
  const relayIds = () => ctx.relays.list().map((r) => r.id);

  /** Publishes configs that are new or changed, and clears those no longer wanted. */
  const publishConfigs = async (force: boolean) => {
    const entities = discoveryEntities({
      home,
      version: ctx.version,
      quantities: quantities(),
      relays: relayIds(),
      topics,
    });
    const next = new Map(entities.map((e) => [topics.config(e.component, e.key), JSON.stringify(e.config)]));
    const sends: Promise<unknown>[] = [];
    for (const [topic, payload] of next)
      if (force || wanted.get(topic) !== payload) sends.push(publish(topic, payload));
    for (const topic of wanted.keys()) if (!next.has(topic)) sends.push(publish(topic, ''));
    wanted.clear();
    for (const [t, p] of next) wanted.set(t, p);
    await Promise.all(sends);
  };

  const publishState = async () => {
    if (!client.connected) return;
    lastStateTs = clock.now();
    const midnight = new Date(clock.now()).setHours(0, 0, 0, 0);
    const state = homeState({
      snapshot: ctx.cycle.latest(),
      trading: ctx.status().trading as TradingView | undefined,
      link: ctx.link?.status() ?? null,
      trades: ctx.trades.trades(midnight),
      relays: ctx.relays.list(),
    });
    await publish(topics.state, JSON.stringify(state));
  };

  /** Everything Home Assistant needs, once connected and once the first snapshot says what the home has. */
  const announce = async () => {
    if (!client.connected || ctx.cycle.latest() === undefined) return;
    announced = true;
    shape = `${quantities().join()}|${relayIds().join()}`;
    await publishConfigs(true);
    await publish(topics.availability, 'online');
    await client
      .subscribeAsync([topics.haStatus, topics.configFilter, topics.commandFilter], { qos: 1 })
      .catch((err: unknown) => log.warn({ err: errorText(err) }, 'homeassistant: subscribe failed'));
    await publishState();
    log.info({ entities: wanted.size, broker: ha.broker }, 'homeassistant: entities announced');
  };

  const command = async (relay: string, kind: 'set' | 'mode', payload: string) => {
    const mode: unknown = kind === 'set' ? { ON: 'on', OFF: 'off' }[payload] : payload;
    try {
      await setRelay(ctx.relays, { id: relay, mode: mode ?? payload }, { holdTimes: true });
      log.info({ relay, mode: mode as RelayMode }, 'homeassistant: relay command');
    } catch (err) {
      log.warn({ relay, command: payload, err: errorText(err) }, 'homeassistant: relay command refused');
    }
    // Either way Home Assistant learns the relay's real state (a refused switch flips back).
    await publishState();
  };

  client.on('connect', () => void announce());
  client.on('close', () => {
    announced = false;
  });
  client.on('message', (topic, payload, packet) => {
    const text = payload.toString();
    if (topic === topics.haStatus) {
      // A retained birth is old news: the entities were announced on connect.
      if (text !== 'online' || packet.retain) return;
      clock.clearTimer(birthTimer);
      birthTimer = clock.setTimer(() => void announce(), clock.random() * BIRTH_JITTER_MS);
      return;
    }
    const cmd = topics.parseCommand(topic);
    if (cmd) {
      void command(cmd.relay, cmd.kind, text);
      return;
    }
    // A retained config of this node from earlier that is not announced now: remove that entity.
    if (packet.retain && payload.length > 0 && !wanted.has(topic)) void publish(topic, '');
  });

  const onSnapshot = () => {
    if (!announced) {
      void announce();
      return;
    }
    const now = `${quantities().join()}|${relayIds().join()}`;
    if (now !== shape) {
      shape = now;
      void publishConfigs(false);
    }
    if (clock.now() - lastStateTs >= STATE_INTERVAL_MS) void publishState();
  };
  ctx.events.on('snapshot', onSnapshot);

  return {
    async stop(deadlineMs) {
      ctx.events.off('snapshot', onSnapshot);
      clock.clearTimer(birthTimer);
      if (client.connected) {
        // A clean leave says `offline` itself: the broker sends the will only for a lost connection.
        await Promise.race([publish(topics.availability, 'offline'), sleepOn(clock, deadlineMs / 2)]);
      }
      await client.endAsync(!client.connected);
    },
  };
}

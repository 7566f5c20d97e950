import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeGpioBackend } from '../../src/devices/gpio/fake-backend.js';
import { haTopics } from '../../src/homeassistant/topics.js';
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { type Mqtt311Proxy, startMqtt311Proxy } from '../helpers/mqtt311-proxy.js';
import { waitFor } from '../helpers/ports.js';
import { type Home, startHome } from '../web/helpers.js';
import { type Announced, renderTemplates, ruleViolations } from './ha-rules.js';
import { type Observer, observe, retainedUnder } from './observer.js';

/**
 * Home Assistant discovery against a real mosquitto: a home with an inverter and a meter on the Modbus
 * simulator and two relays on the GPIO fake, its discovery client behind a proxy that refuses MQTT 5,
 * and an observer standing in for Home Assistant.
 */
const PREFIX = 'homeassistant';
const topics = haTopics(PREFIX, { zone: 'test-zone', id: 'home-web' });
const HEATER_LINE = 17; // active low, load.minOnS/minOffS 300 (the defaults)
const PUMP_LINE = 18; // no hold times
const PUMP = {
  id: 'pump',
  profile: 'relay',
  gpio: { line: PUMP_LINE },
  load: { powerW: 500, minOnS: 0, minOffS: 0 },
};

let broker: Mosquitto;
let proxy: Mqtt311Proxy;
let ha: Observer;
let home: Home | undefined;

const startDiscoveringHome = () =>
  startHome({ devices: [PUMP], homeassistant: { enabled: true, broker: proxy.url, prefix: PREFIX } });

/** The configs announced now (retained, as Home Assistant reads them after a restart). */
const configs = (): Announced[] =>
  [...ha.current]
    .filter(([t]) => t.startsWith(`${PREFIX}/`) && t.endsWith('/config'))
    .map(([topic, payload]) => ({ topic, config: JSON.parse(payload) as Record<string, unknown> }));
const state = () => JSON.parse(ha.current.get(topics.state) ?? 'null') as Record<string, unknown> | null;
const send = (topic: string, payload: string) => ha.client.publishAsync(topic, payload, { qos: 1 });
const gpio = () => home?.service.hardware.gpio as FakeGpioBackend;
const relay = (id: string) => home?.service.relays.list().find((r) => r.id === id);

beforeAll(async () => {
  broker = await startMosquitto();
  proxy = await startMqtt311Proxy(broker.port);
  ha = await observe(broker.url, [`${PREFIX}/#`, 'powerdeal/ha/#']);
  home = await startDiscoveringHome();
  await waitFor(
    () => state()?.solar_w != null && configs().length >= 13,
    30_000,
    'the entities and a solar value',
  );
}, 60_000);

afterAll(async () => {
  await home?.stop();
  await ha?.close();
  await proxy?.close();
  await broker?.dispose();
});

describe('Home Assistant discovery', () => {
  it('announces one device whose configs follow the documented rules, over MQTT 3.1.1', async () => {
    expect(proxy.refusedV5).toBe(0);
    const announced = configs();
    expect(ruleViolations(PREFIX, announced)).toEqual([]);
    const keys = announced.map((a) => a.topic.split('/').slice(1, 4).join('/')).sort();
    const node = topics.node;
    expect(keys).toEqual(
      [
        `select/${node}/relay_pump_mode`,
        `select/${node}/relay_water_heater_mode`,
        `sensor/${node}/bought_today`,
        `sensor/${node}/grid_export_energy`,
        `sensor/${node}/grid_import_energy`,
        `sensor/${node}/grid_power`,
        `sensor/${node}/house_load`,
        `sensor/${node}/link`,
        `sensor/${node}/order`,
        `sensor/${node}/solar_energy`,
        `sensor/${node}/solar_power`,
        `sensor/${node}/sold_today`,
        `sensor/${node}/trading`,
        `switch/${node}/relay_pump`,
        `switch/${node}/relay_water_heater`,
      ].sort(),
    );
    // No battery and no enclosure sensor: this home has neither.
    expect(new Set(announced.map((a) => JSON.stringify(a.config.device)))).toHaveProperty('size', 1);
    for (const a of announced) {
      expect(a.config.availability).toEqual([
        { topic: topics.availability, payload_available: 'online', payload_not_available: 'offline' },
      ]);
    }
    expect(ha.current.get(topics.availability)).toBe('online');
    // QoS 1 (the observer subscribed with 1 gets what was published with 1), and retained.
    expect(new Set(ha.log.filter((m) => m.topic.endsWith('/config')).map((m) => m.qos))).toEqual(
      new Set([1]),
    );
    const retained = await retainedUnder(broker.url, topics.configFilter);
    expect([...retained.keys()].sort()).toEqual(announced.map((a) => a.topic).sort());
  });

  it('every value template reads the state document as Home Assistant renders it', () => {
    const payload = ha.current.get(topics.state) ?? '';
    const announced = configs();
    const rendered = renderTemplates(
      payload,
      announced.map((a) => a.config.value_template as string),
    );
    const doc = JSON.parse(payload) as Record<string, unknown>;
    announced.forEach((a, i) => {
      const c = a.config;
      const out = rendered[i] as string;
      const where = `${a.topic} rendered ${JSON.stringify(out)}`;
      if (c.options) expect(c.options as string[], where).toContain(out);
      else if (c.unit_of_measurement)
        expect(out === 'None' || Number.isFinite(Number(out)), where).toBe(true);
      else if (c.command_topic) expect(['ON', 'OFF'], where).toContain(out);
      else expect(out.length, where).toBeGreaterThan(0);
    });
    const byKey = (key: string) => rendered[announced.findIndex((a) => a.topic.includes(`/${key}/config`))];
    // Live values on the simulator at noon: the inverter produces, the meter and the derived load answer.
    expect(Number(byKey('solar_power'))).toBe(doc.solar_w);
    expect(Number(byKey('solar_power'))).toBeGreaterThan(0);
    expect(Number.isFinite(Number(byKey('grid_power')))).toBe(true);
    expect(Number(byKey('grid_import_energy'))).toBe(doc.grid_import_kwh);
    expect(byKey('relay_water_heater')).toBe('OFF');
    expect(byKey('relay_water_heater_mode')).toBe('auto');
    expect(byKey('link')).toBe('none');
    expect(byKey('trading')).toBe('off');
    expect(byKey('order')).toBe('none');
    const attributes = renderTemplates(payload, [
      announced.find((a) => a.topic.includes('/order/'))?.config.json_attributes_template as string,
    ]);
    expect(JSON.parse(attributes[0] as string)).toEqual({});
  });

  it('a switch command switches the relay through the page path, and the hold times hold', async () => {
    const relays = () => (state()?.relays ?? {}) as Record<string, { state: string; mode: string }>;
    await send(topics.relaySet('pump'), 'ON');
    await waitFor(() => gpio().level(PUMP_LINE) && relays().pump?.state === 'ON', 10_000, 'the pump on');
    expect(relay('pump')).toMatchObject({ on: true, mode: 'on' });
    await send(topics.relaySet('pump'), 'OFF');
    await waitFor(() => !gpio().level(PUMP_LINE) && relays().pump?.state === 'OFF', 10_000, 'the pump off');

    // The heater's load has 300 s minimum on and off times.
    await send(topics.relaySet('water-heater'), 'ON');
    await waitFor(() => relay('water-heater')?.on === true, 10_000, 'the heater on');
    expect(gpio().level(HEATER_LINE)).toBe(false); // active low: on
    const heaterWrites = gpio().writesTo(HEATER_LINE).length;
    await send(topics.relaySet('water-heater'), 'OFF');
    // Commands are handled in order: once the pump is on again, the heater's OFF has been decided.
    await send(topics.relaySet('pump'), 'ON');
    await waitFor(() => gpio().level(PUMP_LINE), 10_000, 'the pump on again');
    await waitFor(() => relays().pump?.state === 'ON', 10_000, 'the state after the commands');
    expect(relay('water-heater')).toMatchObject({ on: true, mode: 'on' });
    expect(gpio().writesTo(HEATER_LINE).length).toBe(heaterWrites);
    expect(relays()['water-heater']?.state).toBe('ON');

    // Back to auto through the mode select: the engine's choice (here the safe state, off) at once.
    await send(topics.relayMode('water-heater'), 'auto');
    await waitFor(() => relays()['water-heater']?.mode === 'auto', 10_000, 'the heater in auto');
    expect(relay('water-heater')).toMatchObject({ on: false, mode: 'auto' });
    await send(topics.relayMode('pump'), 'auto');
    await waitFor(() => relays().pump?.mode === 'auto', 10_000, 'the pump in auto');
  });

  it('announces everything again when Home Assistant comes online', async () => {
    const before = ha.log.length;
    await send(topics.haStatus, 'online');
    const expected = configs().map((a) => a.topic);
    await waitFor(
      () => {
        const again = new Set(ha.log.slice(before).map((m) => m.topic));
        return (
          expected.every((t) => again.has(t)) && again.has(topics.availability) && again.has(topics.state)
        );
      },
      15_000,
      'every config again',
    );
  });

  it('keeps unique ids across a restart, says offline on a clean stop, and removes a retained entity it no longer has', async () => {
    const ids = configs()
      .map((a) => a.config.unique_id)
      .sort();
    await home?.stop();
    await waitFor(() => ha.current.get(topics.availability) === 'offline', 5_000, 'offline on stop');
    // An entity from an earlier config of this home: a relay since removed.
    const stale = topics.config('switch', 'relay_old_boiler');
    const planted = await connectAsync(broker.url, { protocolVersion: 4 });
    await planted.publishAsync(stale, '{"name":"old-boiler","command_topic":"x","unique_id":"old"}', {
      qos: 1,
      retain: true,
    });
    await planted.endAsync();
    await waitFor(() => ha.current.has(stale), 5_000, 'the planted config');
    const mark = ha.log.length;
    home = await startDiscoveringHome();
    await waitFor(() => !ha.current.has(stale), 15_000, 'the stale entity removed');
    await waitFor(() => ha.current.get(topics.availability) === 'online', 15_000, 'online again');
    await waitFor(() => state()?.solar_w != null, 15_000, 'a state again');
    expect(ha.log.slice(mark).some((m) => m.topic.endsWith('/config') && m.payload !== '')).toBe(true);
    expect(
      configs()
        .map((a) => a.config.unique_id)
        .sort(),
    ).toEqual(ids);
  });

  it('the broker publishes offline as the will when the connection is lost', async () => {
    await proxy.close();
    await waitFor(() => ha.current.get(topics.availability) === 'offline', 15_000, 'the will');
  });

  it('turned off, removes every entity, its state and its availability', async () => {
    await home?.stop();
    expect((await retainedUnder(broker.url, `${topics.configFilter}`)).size).toBeGreaterThan(0);
    // An entity of an earlier config again, which only the node's retained configs can tell.
    const stale = topics.config('switch', 'relay_old_boiler');
    const planted = await connectAsync(broker.url, { protocolVersion: 4 });
    await planted.publishAsync(stale, '{"name":"old-boiler"}', { qos: 1, retain: true });
    await planted.endAsync();
    home = await startHome({
      devices: [PUMP],
      homeassistant: { enabled: false, broker: broker.url, prefix: PREFIX },
    });
    await waitFor(
      async () => (await retainedUnder(broker.url, `${PREFIX}/#`)).size === 0,
      15_000,
      'no retained config left',
    );
    expect((await retainedUnder(broker.url, 'powerdeal/ha/#')).size).toBe(0);
  });
});

import type { QuantityName } from '../core/quantities.js';
import type { HaTopics } from './topics.js';

/**
 * The discovery configs of one home: one device, and a component per thing it measures or switches.
 * Everything reads the one state document (state.ts) through a `value_template`; a value that is not
 * good is null there, which Home Assistant shows as unknown.
 */

export type HaComponent = 'sensor' | 'switch' | 'select';

export interface HaEntity {
  component: HaComponent;
  /** The object id under the node: stable, so `unique_id` is stable across restarts. */
  key: string;
  config: Record<string, unknown>;
}

export interface EntityInputs {
  home: { zone: string; id: string };
  version: string;
  /** The quantities this home's devices provide (the snapshot's names). */
  quantities: readonly QuantityName[];
  relays: readonly string[];
  topics: HaTopics;
}

interface SensorSpec {
  key: string;
  name: string;
  /** The state document's field. */
  field: string;
  /** Shown only when the home has this quantity. */
  needs?: QuantityName;
  deviceClass?: string;
  unit?: string;
  stateClass?: 'measurement' | 'total' | 'total_increasing';
  options?: readonly string[];
  icon?: string;
  precision?: number;
  /** A JSON object field of the state document given to the entity as its attributes. */
  attributes?: string;
  /** A diagnostic entity (Home Assistant lists it apart from the controls and sensors). */
  diagnostic?: boolean;
}

export const TRADING_STATES = ['selling', 'buying', 'idle', 'off'] as const;
export const LINK_MODES = ['primary', 'fallback', 'offline', 'none'] as const;

const SENSORS: readonly SensorSpec[] = [
  {
    key: 'solar_power',
    name: 'Solar power',
    field: 'solar_w',
    needs: 'pvPowerW',
    deviceClass: 'power',
    unit: 'W',
    stateClass: 'measurement',
  },
  {
    key: 'solar_energy',
    name: 'Solar energy',
    field: 'solar_kwh',
    needs: 'pvEnergyWh',
    deviceClass: 'energy',
    unit: 'kWh',
    stateClass: 'total_increasing',
    precision: 2,
  },
  // Signed like the meter: + import, − export.
  {
    key: 'grid_power',
    name: 'Grid power',
    field: 'grid_w',
    needs: 'gridPowerW',
    deviceClass: 'power',
    unit: 'W',
    stateClass: 'measurement',
  },
  {
    key: 'grid_import_energy',
    name: 'Grid import energy',
    field: 'grid_import_kwh',
    needs: 'gridImportWh',
    deviceClass: 'energy',
    unit: 'kWh',
    stateClass: 'total_increasing',
    precision: 2,
  },
  {
    key: 'grid_export_energy',
    name: 'Grid export energy',
    field: 'grid_export_kwh',
    needs: 'gridExportWh',
    deviceClass: 'energy',
    unit: 'kWh',
    stateClass: 'total_increasing',
    precision: 2,
  },
  {
    key: 'house_load',
    name: 'House load',
    field: 'load_w',
    needs: 'loadPowerW',
    deviceClass: 'power',
    unit: 'W',
    stateClass: 'measurement',
  },
  {
    key: 'battery_power',
    name: 'Battery power',
    field: 'battery_w',
    needs: 'batteryPowerW',
    deviceClass: 'power',
    unit: 'W',
    stateClass: 'measurement',
  },
  {
    key: 'battery_level',
    name: 'Battery level',
    field: 'battery_pct',
    needs: 'batterySocPct',
    deviceClass: 'battery',
    unit: '%',
    stateClass: 'measurement',
  },
  {
    key: 'enclosure_temperature',
    name: 'Enclosure temperature',
    field: 'enclosure_c',
    needs: 'enclosureTempC',
    deviceClass: 'temperature',
    unit: '°C',
    stateClass: 'measurement',
    diagnostic: true,
  },
  {
    key: 'trading',
    name: 'Trading',
    field: 'trading',
    deviceClass: 'enum',
    options: TRADING_STATES,
    icon: 'mdi:swap-horizontal',
  },
  // Energy of today's trades (local midnight to now): back to 0 at midnight, which total_increasing reads as a new cycle.
  {
    key: 'sold_today',
    name: 'Sold today',
    field: 'sold_today_kwh',
    deviceClass: 'energy',
    unit: 'kWh',
    stateClass: 'total_increasing',
    precision: 3,
  },
  {
    key: 'bought_today',
    name: 'Bought today',
    field: 'bought_today_kwh',
    deviceClass: 'energy',
    unit: 'kWh',
    stateClass: 'total_increasing',
    precision: 3,
  },
  {
    key: 'link',
    name: 'Zone link',
    field: 'link',
    deviceClass: 'enum',
    options: LINK_MODES,
    icon: 'mdi:lan-connect',
    diagnostic: true,
  },
  {
    key: 'order',
    name: 'Active order',
    field: 'order',
    icon: 'mdi:clipboard-text-clock',
    attributes: 'order_detail',
  },
];

/** `relays['water-heater']`: relay ids hold '-', so the template indexes by string. */
const relayField = (relay: string, field: 'state' | 'mode') =>
  `value_json.relays[${JSON.stringify(relay)}].${field}`;

const keyOf = (text: string) => text.replaceAll('-', '_');

export function discoveryEntities(inputs: EntityInputs): HaEntity[] {
  const { topics, home } = inputs;
  const common = {
    availability: [
      { topic: topics.availability, payload_available: 'online', payload_not_available: 'offline' },
    ],
    device: {
      identifiers: [topics.node],
      name: `Powerdeal ${home.id}`,
      manufacturer: 'Powerdeal',
      model: 'Home controller',
      sw_version: inputs.version,
    },
    origin: { name: 'Powerdeal', sw_version: inputs.version },
    qos: 1,
  };
  const entity = (component: HaComponent, key: string, config: Record<string, unknown>): HaEntity => ({
    component,
    key,
    config: { ...config, unique_id: `${topics.node}_${key}`, ...common },
  });
  const have = new Set(inputs.quantities);
  const sensors = SENSORS.filter((s) => s.needs === undefined || have.has(s.needs)).map((s) =>
    entity('sensor', s.key, {
      name: s.name,
      state_topic: topics.state,
      value_template: `{{ value_json.${s.field} }}`,
      ...(s.deviceClass ? { device_class: s.deviceClass } : {}),
      ...(s.unit ? { unit_of_measurement: s.unit } : {}),
      ...(s.stateClass ? { state_class: s.stateClass } : {}),
      ...(s.options ? { options: [...s.options] } : {}),
      ...(s.precision !== undefined ? { suggested_display_precision: s.precision } : {}),
      ...(s.icon ? { icon: s.icon } : {}),
      ...(s.attributes
        ? {
            json_attributes_topic: topics.state,
            json_attributes_template: `{{ value_json.${s.attributes} | tojson }}`,
          }
        : {}),
      ...(s.diagnostic ? { entity_category: 'diagnostic' } : {}),
    }),
  );
  const relays = inputs.relays.flatMap((relay) => [
    entity('switch', `relay_${keyOf(relay)}`, {
      name: relay,
      state_topic: topics.state,
      value_template: `{{ ${relayField(relay, 'state')} }}`,
      command_topic: topics.relaySet(relay),
      payload_on: 'ON',
      payload_off: 'OFF',
      state_on: 'ON',
      state_off: 'OFF',
      optimistic: false,
      icon: 'mdi:power-socket-eu',
    }),
    entity('select', `relay_${keyOf(relay)}_mode`, {
      name: `${relay} mode`,
      state_topic: topics.state,
      value_template: `{{ ${relayField(relay, 'mode')} }}`,
      command_topic: topics.relayMode(relay),
      options: ['auto', 'on', 'off'],
      optimistic: false,
      entity_category: 'config',
      icon: 'mdi:hand-back-right',
    }),
  ]);
  return [...sensors, ...relays];
}

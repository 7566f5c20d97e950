import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * What Home Assistant's MQTT integration documents for discovery configs (the MQTT sensor, switch and
 * select pages, and the sensor entity's device classes, units and state classes), as checks.
 */

const COMMON_KEYS = [
  'availability',
  'availability_mode',
  'device',
  'enabled_by_default',
  'entity_category',
  'icon',
  'json_attributes_template',
  'json_attributes_topic',
  'name',
  'object_id',
  'origin',
  'qos',
  'unique_id',
  'value_template',
  'state_topic',
];
const KEYS: Record<string, string[]> = {
  sensor: [
    ...COMMON_KEYS,
    'device_class',
    'expire_after',
    'force_update',
    'options',
    'state_class',
    'suggested_display_precision',
    'unit_of_measurement',
  ],
  switch: [
    ...COMMON_KEYS,
    'command_topic',
    'device_class',
    'optimistic',
    'payload_off',
    'payload_on',
    'retain',
    'state_off',
    'state_on',
  ],
  select: [...COMMON_KEYS, 'command_template', 'command_topic', 'optimistic', 'options', 'retain'],
};
const REQUIRED: Record<string, string[]> = {
  sensor: ['state_topic'],
  switch: ['command_topic'],
  select: ['command_topic', 'options'],
};
/** Sensor device classes used here, with the units Home Assistant accepts for each. */
const SENSOR_UNITS: Record<string, string[] | null> = {
  power: ['mW', 'W', 'kW', 'MW', 'GW', 'TW', 'BTU/h'],
  energy: ['J', 'kJ', 'MJ', 'GJ', 'mWh', 'Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'cal', 'kcal', 'Mcal', 'Gcal'],
  temperature: ['°C', '°F', 'K'],
  battery: ['%'],
  enum: null,
};
const STATE_CLASSES = ['measurement', 'measurement_angle', 'total', 'total_increasing'];
const OBJECT_ID = /^[a-zA-Z0-9_-]+$/;

export interface Announced {
  topic: string;
  config: Record<string, unknown>;
}

/** Every way a config breaks the documented rules, as sentences (empty: none). */
export function ruleViolations(prefix: string, entities: readonly Announced[]): string[] {
  const out: string[] = [];
  const ids = new Set<string>();
  for (const { topic, config: c } of entities) {
    const parts = topic.split('/');
    const [component, node, objectId, last] = parts.slice(-4);
    const bad = (what: string) => out.push(`${topic}: ${what}`);
    if (parts.slice(0, -4).join('/') !== prefix || last !== 'config')
      bad('not <prefix>/<component>/<node>/<object_id>/config');
    if (!component || !(component in KEYS)) {
      bad(`unknown component ${component}`);
      continue;
    }
    if (!OBJECT_ID.test(node ?? '') || !OBJECT_ID.test(objectId ?? ''))
      bad('node or object id has characters outside [a-zA-Z0-9_-]');
    for (const k of Object.keys(c))
      if (!KEYS[component]?.includes(k)) bad(`key ${k} is not a ${component} option`);
    for (const k of REQUIRED[component] ?? []) if (c[k] === undefined) bad(`required ${k} missing`);
    const uid = c.unique_id;
    if (typeof uid !== 'string' || uid === '') bad('no unique_id');
    else if (ids.has(uid)) bad(`unique_id ${uid} used twice`);
    else ids.add(uid);
    const device = c.device as { identifiers?: unknown[]; name?: unknown } | undefined;
    if (!Array.isArray(device?.identifiers) || device.identifiers.length === 0)
      bad('device without identifiers');
    const availability = c.availability as
      | { topic?: unknown; payload_available?: unknown; payload_not_available?: unknown }[]
      | undefined;
    if (
      !Array.isArray(availability) ||
      availability.length === 0 ||
      availability.some((a) => typeof a.topic !== 'string')
    )
      bad('no availability topic');
    if (c.qos !== undefined && ![0, 1, 2].includes(c.qos as number)) bad('qos not 0, 1 or 2');
    if (component === 'sensor') {
      const dc = c.device_class as string | undefined;
      const unit = c.unit_of_measurement as string | undefined;
      const sc = c.state_class as string | undefined;
      if (dc !== undefined && !(dc in SENSOR_UNITS)) bad(`device_class ${dc} not checked here`);
      const units = dc ? SENSOR_UNITS[dc] : undefined;
      if (units && (unit === undefined || !units.includes(unit)))
        bad(`unit ${unit} is not one of ${units.join(', ')} for ${dc}`);
      if (sc !== undefined && !STATE_CLASSES.includes(sc)) bad(`state_class ${sc}`);
      if (dc === 'energy' && sc !== 'total' && sc !== 'total_increasing')
        bad('energy needs state_class total or total_increasing');
      if (dc === 'enum') {
        if (!Array.isArray(c.options) || c.options.length === 0) bad('enum without options');
        if (unit !== undefined || sc !== undefined) bad('enum with a unit or a state_class');
      } else if (c.options !== undefined) bad('options without device_class enum');
    }
    if (component === 'select' && (!Array.isArray(c.options) || c.options.length === 0))
      bad('select without options');
  }
  return out;
}

/** Renders value templates with Debian's Jinja2 (python3-jinja2) as Home Assistant does (see render_templates.py). */
export function renderTemplates(payload: string, templates: readonly string[]): string[] {
  const r = spawnSync('/usr/bin/python3', [join(import.meta.dirname, 'render_templates.py')], {
    input: JSON.stringify({ payload, templates }),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`jinja2 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

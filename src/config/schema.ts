import { z } from 'zod';
import { ID_PATTERN, ID_RULE_TEXT } from '../core/ids.js';

/**
 * The one config schema (README "Configuration"): types, defaults and validation in one place. Every
 * field carries a hint so an error can say what to write instead. Objects are strict so a typo is an
 * error, not a silent default. Each default is written once, on its field: a section left out is
 * `.prefault({})`, parsed like an empty section, so it gets the same field defaults.
 */

const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

const id = (what: string) =>
  z.string().regex(ID_PATTERN, { error: `${what} must be ${ID_RULE_TEXT}, e.g. "home-42"` });

const hostPort = (what: string) =>
  z.string().regex(HOST_PORT, { error: `${what} must be "HOST:PORT", e.g. "192.168.1.50:502"` });

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
/** A host name or IPv4 address, or a bracketed IPv6 address, with an optional port: what a Host header holds. */
const HOST_NAME = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*\\.?|\\[[0-9A-Fa-f:.]+\\])(?::(\\d{1,5}))?$`);

/** Also parsed as a URL's host, so an address such as "[1::2::3]" is refused here, not at the first request. */
function isHostEntry(text: string): boolean {
  const m = HOST_NAME.exec(text);
  if (!m || (m[1] !== undefined && Number(m[1]) > 65_535)) return false;
  return URL.canParse(`http://${text}`);
}

const allowedHost = z.string().refine(isHostEntry, {
  error:
    'web.allowedHosts entries are the names the page is reached by, optionally with ":PORT", e.g. "powerdeal.home.arpa", "pi.lan:8080" or "[fd00::2]" (no scheme, no path, no wildcard)',
});

const modbusSchema = z
  .strictObject({
    tcp: hostPort('modbus.tcp').optional(),
    rtu: z
      .string()
      .min(1, { error: 'modbus.rtu must be a serial device path, e.g. "/dev/ttyUSB0"' })
      .optional(),
    rtuOverTcp: hostPort('modbus.rtuOverTcp').optional(),
    unitId: z.int().min(0).max(247, { error: 'unitId must be 0..247 (1 for most inverters)' }).default(1),
    timeoutMs: z.int().min(50).max(30_000, { error: 'timeoutMs must be 50..30000' }).default(1000),
    baudRate: z
      .union(
        [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].map((b) => z.literal(b)),
        {
          error: 'baudRate must be one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200',
        },
      )
      .default(9600),
    parity: z.enum(['none', 'even', 'odd'], { error: 'parity must be none, even or odd' }).default('none'),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  })
  .refine((m) => [m.tcp, m.rtu, m.rtuOverTcp].filter((x) => x !== undefined).length === 1, {
    error: 'give exactly one of modbus.tcp, modbus.rtu or modbus.rtuOverTcp',
  });

const i2cSchema = z.strictObject({
  bus: z.int().min(0).max(255).default(1),
  address: z.int().min(0x03).max(0x77, { error: 'i2c.address must be 0x03..0x77, e.g. 0x40' }),
  shuntOhms: z.number().positive({ error: 'i2c.shuntOhms must be > 0, e.g. 0.1' }).optional(),
  maxCurrentA: z.number().positive().optional(),
});

const gpioLineSchema = z.strictObject({
  line: z.int().min(0).max(63, { error: 'gpio.line is the header GPIO number (BCM), 0..63, e.g. 17' }),
  activeLow: z.boolean().default(false),
});

const deviceSchema = z
  .strictObject({
    id: id('device id'),
    profile: z.string().min(1, { error: 'profile names a file in hardware/profiles, e.g. "sdm630"' }),
    modbus: modbusSchema.optional(),
    i2c: i2cSchema.optional(),
    gpio: gpioLineSchema
      .extend({
        safeState: z.enum(['off', 'on'], { error: 'gpio.safeState must be off or on' }).default('off'),
      })
      .optional(),
    load: z
      .strictObject({
        powerW: z.number().positive({ error: 'load.powerW is the load power in W, e.g. 2000' }),
        minOnS: z.int().min(0).default(300),
        minOffS: z.int().min(0).default(300),
      })
      .optional(),
    /** A value older than this turns stale. Default: 3 cycles. */
    maxAgeMs: z.int().positive().optional(),
    enabled: z.boolean().default(true),
  })
  .refine((d) => [d.modbus, d.i2c, d.gpio].filter((x) => x !== undefined).length === 1, {
    error: 'a device needs exactly one transport: modbus, i2c or gpio',
  });

/** Caps of the store's outbox: beyond them the oldest sheddable messages go first. */
const outboxSchema = z
  .strictObject({
    maxRows: z.int().min(100).default(200_000),
    maxBytes: z
      .int()
      .min(65_536)
      .default(64 * 1024 * 1024),
  })
  .prefault({});

const brokerUrl = z.string().regex(/^(mqtt|mqtts|ws|wss):\/\/[^\s/]+(:\d+)?\/?$/, {
  error: 'a broker is a URL like "mqtt://10.0.0.2:1883" or "mqtts://broker:8883"',
});

export const configSchema = z.strictObject({
  home: z.strictObject({ id: id('home.id'), zone: id('home.zone') }),
  cycleMs: z
    .int()
    .min(100)
    .max(60_000, { error: 'cycleMs must be 100..60000 (1000 is usual)' })
    .default(1000),
  devices: z.array(deviceSchema).default([]),
  panel: z
    .strictObject({
      statusLed: gpioLineSchema.optional(),
      button: gpioLineSchema.extend({ debounceMs: z.int().min(0).max(1000).default(50) }).optional(),
    })
    .prefault({}),
  mqtt: z
    .strictObject({
      brokers: z.array(brokerUrl).min(1, { error: 'mqtt.brokers needs at least one broker URL' }),
      username: z.string().optional(),
      passwordFile: z.string().optional(),
      caFile: z.string().optional(),
      clientId: z.string().optional(),
      keepaliveS: z.int().min(5).max(600).default(30),
      telemetryIntervalMs: z.int().min(1000).max(3_600_000).default(10_000),
      /** After failing over, try the first (primary) broker again after this long. 0 = never. */
      returnToPrimaryMs: z.int().min(0).default(300_000),
      reconnectBaseMs: z.int().min(100).default(1000),
      reconnectMaxMs: z.int().min(1000).default(60_000),
      ackTimeoutMs: z.int().min(500).default(10_000),
      maxInFlight: z.int().min(1).max(65535).default(32),
      /** Throttle of the backlog drain after a reconnect, messages per second. */
      drainRatePerS: z.int().min(1).default(200),
      /** Random wait before draining after a reconnect, so homes returning together spread out. */
      drainStartJitterMs: z.int().min(0).max(600_000).default(3000),
      outbox: outboxSchema,
    })
    .optional(),
  /**
   * Home Assistant MQTT discovery on the home's own broker (usually not the zone's). Off by default; with
   * `enabled: false` and a `broker`, the service removes the entities it published there.
   */
  homeassistant: z
    .strictObject({
      enabled: z.boolean().default(false),
      broker: brokerUrl.optional(),
      username: z.string().optional(),
      passwordFile: z.string().optional(),
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, {
          error:
            'homeassistant.prefix is the discovery prefix set in Home Assistant\'s MQTT integration, "homeassistant" unless changed there (letters, digits, "_", "-", levels split by "/")',
        })
        .default('homeassistant'),
    })
    .refine((h) => !h.enabled || h.broker !== undefined, {
      path: ['broker'],
      error:
        'homeassistant.enabled is true but no broker is given: add homeassistant.broker, the broker Home Assistant uses, e.g. "mqtt://192.168.1.10:1883"',
    })
    .prefault({}),
  /**
   * Trading with no broker (docs/protocol.md "Fallback"): after every broker of `mqtt.brokers` has been
   * unreachable for `afterS`, the zone elects a home that carries its messages on an embedded broker.
   */
  fallback: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Seconds every upstream broker must have been unreachable before the home enters fallback. */
      afterS: z
        .int()
        .min(1)
        .max(3600, { error: 'fallback.afterS must be 1..3600 seconds (20 is usual)' })
        .default(20),
      /** Where this home's embedded broker listens while it leads the zone. */
      listen: hostPort('fallback.listen').default('0.0.0.0:1884'),
      /** false: this home never carries the zone (a weak link), it only connects to the leader. */
      host: z.boolean().default(true),
      /** How members find each other: the keyring's fallback endpoints (mDNS discovery is not built yet). */
      discovery: z
        .enum(['static'], {
          error: "fallback.discovery must be static (list each home's endpoint in the keyring)",
        })
        .default('static'),
    })
    .prefault({}),
  engine: z
    .strictObject({
      /** Smallest surplus power (after the reserve) worth offering. */
      minOfferW: z.number().min(0).default(300),
      /** Power kept back for the home itself when offering. */
      reserveW: z.number().min(0).default(200),
      /** Price of this home's offers. */
      priceCentsPerKwh: z.number().min(0).default(12),
      /** The most this home pays for a neighbour's energy (set it below the grid tariff). */
      maxBuyPriceCentsPerKwh: z.number().min(0).default(20),
      /** Smallest trade, Wh: no smaller offers, accepts or partial fills. */
      minTradeWh: z.int().min(1).default(20),
      slotMinutes: z.int().min(1).max(60).default(15),
      /** Trading on or off (telemetry and the page keep working when off). */
      trading: z.boolean().default(true),
      /**
       * Where the home must not export more than it sold: the inverter device whose SunSpec model 123
       * limit is written, and its rated power.
       */
      noExport: z
        .strictObject({
          device: id('engine.noExport.device'),
          inverterWMax: z
            .number()
            .positive({ error: 'engine.noExport.inverterWMax is the inverter rating in W, e.g. 5000' }),
        })
        .optional(),
    })
    .prefault({}),
  /** This home's Ed25519 key and the zone's keyring (public keys of the members). See docs/protocol.md. */
  keys: z
    .strictObject({
      /** PKCS#8 PEM private key, mode 0600; `powerdeal keys init` creates it. */
      privateKeyFile: z.string().min(1).default('/etc/powerdeal/home.key'),
      /** YAML: `zone: <zone>` and `members: { <home id>: "ed25519:<base64url public key>" }`. */
      keyringFile: z.string().min(1).default('/etc/powerdeal/keyring.yaml'),
    })
    .prefault({}),
  store: z
    .strictObject({
      path: z.string().min(1).default('/var/lib/powerdeal/powerdeal.db'),
      /** Minute readings older than this are pruned (hourly aggregates are kept). */
      readingsRetentionDays: z.int().min(1).default(7),
      /**
       * Readings (one row per minute on disk) are buffered and written this often, in one commit: fewer SD
       * card writes; a power cut loses at most this much local history (0 = every cycle).
       */
      readingsFlushMs: z.int().min(0).max(3_600_000).default(300_000),
      /**
       * Telemetry waits in memory until the broker acknowledges it, and is written to the outbox only if
       * that takes longer than this (0 = every telemetry row written at once). A power cut loses at most
       * this much unacknowledged telemetry, never a trading message.
       */
      telemetryStageMs: z.int().min(0).max(300_000).default(15_000),
      /** Below this much free space the service sheds telemetry and old raw readings, and raises an alert. */
      lowDiskMb: z.int().min(0).default(64),
      /** Space held in a reserve file beside the database, released when the disk fills (0 = none). */
      diskReserveMb: z.int().min(0).max(1024).default(8),
      /** Nightly online backups kept (0 = no backups). */
      backupKeep: z.int().min(0).max(365).default(7),
      /** Where backups go; default a "backups" directory beside the database. */
      backupDir: z.string().min(1).optional(),
    })
    .prefault({}),
  web: z
    .strictObject({
      listen: hostPort('web.listen').default('127.0.0.1:8080'),
      /** Bearer token for state-changing requests (relay override, dead letters); absent: they are refused. */
      tokenFile: z.string().min(1).default('/etc/powerdeal/web.token'),
      /** Live-page (server-sent events) connections served at once. */
      maxEventClients: z.int().min(1).max(100).default(8),
      /** Largest request body accepted, bytes. */
      maxBodyBytes: z.int().min(256).max(1_048_576).default(4096),
      /**
       * Host names the page answers to besides its own (listen address, loopback, host name, interface
       * addresses): a reverse proxy's or a local DNS name. Any other Host header is refused (DNS rebinding).
       */
      allowedHosts: z.array(allowedHost).max(64).default([]),
      /** Serve the page over HTTPS with this PEM certificate (or chain) and unencrypted PEM key. */
      tls: z
        .strictObject({
          certFile: z.string().min(1, { error: 'web.tls.certFile is a PEM certificate file' }),
          keyFile: z.string().min(1, { error: 'web.tls.keyFile is a PEM private key file' }),
        })
        .optional(),
    })
    .prefault({}),
  /** The local control channel the CLI uses while the service runs (unix socket, mode 0660). */
  control: z.strictObject({ socket: z.string().min(1).default('/run/powerdeal/control.sock') }).prefault({}),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;

/** The outbox caps of an `mqtt` section that sets none (the store's defaults too). */
export const OUTBOX_DEFAULTS: Readonly<z.infer<typeof outboxSchema>> = outboxSchema.parse(undefined);
export type DeviceConfig = Config['devices'][number];
export type ModbusConfig = NonNullable<DeviceConfig['modbus']>;
export type MqttConfig = NonNullable<Config['mqtt']>;
export type HomeAssistantConfig = Config['homeassistant'];
export type FallbackConfig = Config['fallback'];

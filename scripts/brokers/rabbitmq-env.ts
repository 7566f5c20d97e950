import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './util.js';

/**
 * The on-disk layout and the environment of a test RabbitMQ cluster (see rabbitmq-cluster.ts): one temp
 * dir holding the cookie, an empty rabbitmq-env.conf and a dir per node with its config, enabled
 * plugins, mnesia and logs.
 */

/** The Debian package's scripts, called directly: /usr/sbin/rabbitmqctl would su to the rabbitmq user. */
export const RABBIT_BIN = process.env.POWERDEAL_RABBITMQ_BIN ?? '/usr/lib/rabbitmq/bin';

export interface RabbitNode {
  readonly index: number;
  /** Erlang node name, e.g. pd3f9a1c-0@localhost. */
  readonly name: string;
  readonly amqpPort: number;
  readonly mqttPort: number;
  readonly distPort: number;
  /** mqtt://127.0.0.1:<mqttPort> (anonymous). */
  readonly mqttUrl: string;
  /** amqp://guest:guest@127.0.0.1:<amqpPort>. */
  readonly amqpUrl: string;
  readonly dir: string;
}

/** Makes the temp dir, the cookie and each node's dir and config, on fresh 127.0.0.1 ports. */
export async function layOut(
  n: number,
  extraConf: string[],
): Promise<{ dir: string; epmdPort: number; nodes: RabbitNode[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'pd-rmq-'));
  const id = `pd${Math.random().toString(16).slice(2, 8)}`;
  writeFileSync(join(dir, '.erlang.cookie'), `${id}${Math.random().toString(36).slice(2)}`.toUpperCase());
  chmodSync(join(dir, '.erlang.cookie'), 0o400);
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
  const taken: number[] = [];
  const port = async () => {
    const p = await freePort(taken);
    taken.push(p);
    return p;
  };
  const epmdPort = await port();
  const nodes: RabbitNode[] = [];
  for (let i = 0; i < n; i++) {
    const [amqpPort, mqttPort, distPort] = [await port(), await port(), await port()];
    const node: RabbitNode = {
      index: i,
      name: `${id}-${i}@localhost`,
      amqpPort,
      mqttPort,
      distPort,
      mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
      amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
      dir: join(dir, `n${i}`),
    };
    mkdirSync(node.dir);
    const conf = [
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      `mqtt.listeners.tcp.default = 127.0.0.1:${mqttPort}`,
      // Anonymous MQTT logs in as guest, which RabbitMQ allows from loopback only: all we use.
      'mqtt.allow_anonymous = true',
      'mqtt.default_user = guest',
      'mqtt.default_pass = guest',
      ...extraConf,
    ];
    writeFileSync(join(node.dir, 'rabbitmq.conf'), `${conf.join('\n')}\n`);
    // MQTT on node 0 from its first boot; on the others only once they have joined (see joinNode).
    writePlugins(node, i === 0 ? ['rabbitmq_mqtt'] : []);
    nodes.push(node);
  }
  return { dir, epmdPort, nodes };
}

export function writePlugins(node: RabbitNode, plugins: string[]): void {
  writeFileSync(join(node.dir, 'enabled_plugins'), `[${plugins.join(',')}].\n`);
}

/** The environment every rabbitmq-server and rabbitmqctl of this cluster runs with. */
export function baseEnv(dir: string, epmdPort: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Nothing from the caller's RabbitMQ/Erlang setup may leak in.
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(RABBITMQ_|ERL_|detached$)/.test(k)) env[k] = v;
  }
  const dist = '-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}';
  return {
    ...env,
    HOME: dir,
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_CTL_ERL_ARGS: dist,
    RABBITMQ_USE_LONGNAME: 'false',
  };
}

export function nodeEnv(base: NodeJS.ProcessEnv, node: RabbitNode, erlArgs: string): NodeJS.ProcessEnv {
  const d = node.dir;
  return {
    ...base,
    RABBITMQ_NODENAME: node.name,
    RABBITMQ_DIST_PORT: String(node.distPort),
    RABBITMQ_CONFIG_FILE: join(d, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(d, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(d, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(d, 'mnesia'),
    RABBITMQ_MNESIA_DIR: join(d, 'mnesia', node.name),
    RABBITMQ_LOG_BASE: join(d, 'log'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(d, 'plugins-expand'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(d, 'feature_flags'),
    RABBITMQ_PID_FILE: join(d, 'rabbitmq.pid'),
    // Ours first, the caller's after (later flags win). +stbt u: three VMs on two cores must not pin
    // their schedulers to the same cores (the default is db, bound).
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: `-start_epmd false -kernel inet_dist_use_interface {127,0,0,1} +stbt u ${erlArgs}`,
    // Makes rabbitmq-server exec the VM instead of waiting on it from a shell: the pid we spawn is beam.smp.
    detached: 'true',
  };
}

import { isIP } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';
import type { Config } from '../config/schema.js';

/**
 * The addresses the service exchanges packets with, from the config: the unit denies every other one
 * (IPAddressDeny=any) except localhost and link-local, and scripts/install.sh writes this list into a
 * drop-in (`powerdeal config addresses --systemd`). A name is resolved when the list is made; its
 * resolvers are allowed too, since the service looks it up again at every connect.
 */

/** Where the installer writes the list; `powerdeal config addresses` compares against it. */
export const DROP_IN = '/etc/systemd/system/powerdeal.service.d/addresses.conf';

export interface AllowedAddress {
  /** An address or a subnet as IPAddressAllow= takes it: "10.0.0.2", "192.168.1.0/24". */
  prefix: string;
  /** The config keys (or the resolver) that need it. */
  why: string[];
}

export interface AddressSources {
  /** Every address of a name; rejects when it does not resolve. */
  lookup(host: string): Promise<string[]>;
  /** The resolvers of /etc/resolv.conf. */
  nameservers: readonly string[];
  /** os.networkInterfaces(): the subnets a page listening off loopback serves. */
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>;
}

export interface Addresses {
  allow: AllowedAddress[];
  /** Names that did not resolve, a listen address this machine does not have. */
  problems: string[];
}

export async function configAddresses(config: Config, src: AddressSources): Promise<Addresses> {
  const allow = new Map<string, AllowedAddress>();
  const problems: string[] = [];
  const add = (prefix: string, why: string) => {
    if (isLocal(prefix)) return;
    const entry = allow.get(prefix) ?? { prefix, why: [] };
    if (!entry.why.includes(why)) entry.why.push(why);
    allow.set(prefix, entry);
  };
  let named = false;
  const resolve = async (key: string, host: string): Promise<string[]> => {
    if (isIP(host) !== 0) return [host];
    if (host === 'localhost') return [];
    named = true;
    try {
      return await src.lookup(host);
    } catch {
      problems.push(`${key}: "${host}" does not resolve, so it is not allowed (install again once it does)`);
      return [];
    }
  };

  for (const { key, host } of peers(config)) {
    for (const a of await resolve(key, host)) add(a, a === host ? key : `${key} (${host})`);
  }
  const listen = hostOf(config.web.listen);
  if (listen === '0.0.0.0' || listen === '::') {
    for (const s of subnets(src.interfaces, () => true, listen === '0.0.0.0')) add(s, 'web.listen (the LAN)');
  } else {
    const own = new Set(await resolve('web.listen', listen));
    const served = subnets(src.interfaces, (a) => own.has(a), false);
    if (own.size > 0 && served.length === 0 && ![...own].every(isLocal)) {
      problems.push(`web.listen: ${listen} is not an address of this machine`);
    }
    for (const s of served) add(s, 'web.listen (its subnet)');
  }
  if (named) for (const ns of src.nameservers) add(ns, 'DNS server (/etc/resolv.conf)');
  return { allow: [...allow.values()], problems };
}

/** The drop-in the installer writes. */
export function systemdDropIn(a: Addresses, configFile: string): string {
  const lines = [
    `# Written by scripts/install.sh from ${configFile} (powerdeal config addresses --systemd): the`,
    '# addresses the service may exchange packets with besides localhost and link-local. Rewritten by every',
    '# install: after changing brokers, Modbus TCP devices or web.listen, run the installer again. Put your',
    '# own additions in another drop-in (systemctl edit powerdeal).',
    '[Service]',
  ];
  for (const p of a.allow) lines.push(`# ${p.why.join(', ')}`, `IPAddressAllow=${p.prefix}`);
  for (const p of a.problems) lines.push(`# ${p}`);
  return `${lines.join('\n')}\n`;
}

/** The IPAddressAllow= entries of a drop-in's text. */
export function allowedIn(text: string): Set<string> {
  const found = new Set<string>();
  for (const m of text.matchAll(/^IPAddressAllow=(.*)$/gm)) {
    for (const p of (m[1] ?? '').trim().split(/\s+/)) if (p) found.add(p);
  }
  return found;
}

function peers(config: Config): { key: string; host: string }[] {
  const out = (config.mqtt?.brokers ?? []).map((url, i) => ({
    key: `mqtt.brokers.${i}`,
    host: new URL(url).hostname.replace(/^\[|\]$/g, ''),
  }));
  const ha = config.homeassistant.broker;
  if (ha) out.push({ key: 'homeassistant.broker', host: new URL(ha).hostname.replace(/^\[|\]$/g, '') });
  config.devices.forEach((d, i) => {
    const m = d.modbus;
    if (m?.tcp) out.push({ key: `devices.${i}.modbus.tcp`, host: hostOf(m.tcp) });
    if (m?.rtuOverTcp) out.push({ key: `devices.${i}.modbus.rtuOverTcp`, host: hostOf(m.rtuOverTcp) });
  });
  return out;
}

/** The host of "HOST:PORT" or "[v6]:PORT". */
function hostOf(hostPort: string): string {
  return hostPort.slice(0, hostPort.lastIndexOf(':')).replace(/^\[|\]$/g, '');
}

/** Loopback and link-local: the unit allows them itself. */
function isLocal(prefix: string): boolean {
  const a = prefix.split('/')[0]?.toLowerCase() ?? '';
  if (isIP(a) === 4) return a.startsWith('127.') || a.startsWith('169.254.');
  return a === '::1' || /^fe[89ab]/.test(a);
}

/** The subnets (network/prefix) of the interfaces with an address `pick` accepts; IPv4 only if `v4`. */
function subnets(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
  pick: (address: string) => boolean,
  v4: boolean,
): string[] {
  const out: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const i of list ?? []) {
      if (i.internal || i.cidr === null || !pick(i.address) || (v4 && i.family !== 'IPv4')) continue;
      out.push(network(i.cidr));
    }
  }
  return out;
}

/** "192.168.1.23/24" → "192.168.1.0/24"; IPv6 likewise. */
export function network(cidr: string): string {
  const [address = '', bitsText = ''] = cidr.split('/');
  const bits = Number(bitsText);
  const v4 = isIP(address) === 4;
  const bytes = v4 ? address.split('.').map(Number) : ipv6Bytes(address);
  const masked = bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  if (v4) return `${masked.join('.')}/${bits}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((masked[i] ?? 0) << 8) | (masked[i + 1] ?? 0)).toString(16));
  return `${new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1)}/${bits}`;
}

function ipv6Bytes(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const h = part(head);
  const t = tail === undefined ? [] : part(tail);
  const groups = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

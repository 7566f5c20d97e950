import { existsSync } from 'node:fs';

/**
 * How the footprint benches start `powerdeal run`: the built service (what systemd runs) when
 * `npm run build` has run, else the sources through tsx (which costs some 20 MB more).
 */
export function serviceEntry(): { args: string[]; name: string } {
  return existsSync('dist/cli/main.js')
    ? { args: ['dist/cli/main.js'], name: 'dist/cli/main.js' }
    : { args: ['--import', 'tsx', 'src/cli/main.ts'], name: 'src/cli/main.ts via tsx' };
}

/** The config lines of a bench home reading the simulator's inverter and meter over Modbus TCP. */
export function benchHomeConfig(o: {
  home: string;
  simPort: number;
  brokerUrl: string;
  dir: string;
  webPort: number;
  mqttExtra?: string;
}): string {
  return [
    `home: { id: ${o.home}, zone: bench }`,
    'cycleMs: 1000',
    'devices:',
    `  - { id: inverter, profile: sunspec-inverter, modbus: { tcp: "127.0.0.1:${o.simPort}", unitId: 1 } }`,
    `  - { id: grid-meter, profile: sdm630, modbus: { tcp: "127.0.0.1:${o.simPort}", unitId: 2 } }`,
    `mqtt: { brokers: ["${o.brokerUrl}"]${o.mqttExtra ? `, ${o.mqttExtra}` : ''} }`,
    `store: { path: "${o.dir}/powerdeal.db", diskReserveMb: 0 }`,
    `web: { listen: "127.0.0.1:${o.webPort}", tokenFile: "${o.dir}/web.token" }`,
    `control: { socket: "${o.dir}/control.sock" }`,
    `keys: { privateKeyFile: "${o.dir}/home.key", keyringFile: "${o.dir}/keyring.yaml" }`,
    '',
  ].join('\n');
}

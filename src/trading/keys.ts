import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { errorText } from '../core/errors.js';
import {
  type Keyring,
  memberKeyTexts,
  publicKeyText,
  readKeyring,
  readPrivateKey,
} from '../protocol/keyring.js';
import { createSigner, type Signer } from '../protocol/signing.js';
import type { TradingOff } from './status.js';

/** What the service signs and verifies with, and whether it may trade. */
export interface TradingKeys {
  /** Signs everything the home publishes; null without a usable key. */
  signer: Signer | null;
  /** Verifies what neighbours send; null without a usable keyring. */
  keyring: Keyring | null;
  /** Why trading cannot run, or null when it can. */
  off: TradingOff | null;
  /** Problems that do not stop trading but make neighbours refuse this home (logged, shown). */
  warnings: string[];
}

/**
 * Loads the home's key and the zone's keyring. A missing file is not an error: the service then runs
 * without trading and says why. Files that exist but are broken are refused at config load
 * (cross-checks.ts), so a failure here means the file changed since; it is reported the same way.
 * Never throws.
 */
export function loadTradingKeys(config: Config): TradingKeys {
  const keys: TradingKeys = { signer: null, keyring: null, off: null, warnings: [] };
  const { privateKeyFile, keyringFile } = config.keys;
  const offs: TradingOff[] = [];
  if (!config.engine.trading)
    offs.push({ code: 'disabled', text: 'trading off: engine.trading is false in the config' });
  if (!config.mqtt) {
    offs.push({
      code: 'no-broker',
      text: 'trading off: no MQTT broker configured; add mqtt.brokers to the config',
    });
    keys.off = offs[0] ?? null;
    return keys;
  }

  let publicKey: string | null = null;
  if (!existsSync(privateKeyFile)) {
    offs.push({
      code: 'no-key',
      text: `trading off: no key at ${privateKeyFile}; run \`powerdeal keys init\``,
    });
  } else {
    try {
      const key = readPrivateKey(privateKeyFile, { warn: (m) => keys.warnings.push(m) });
      keys.signer = createSigner(config.home.id, key);
      publicKey = publicKeyText(createPublicKey(key));
    } catch (err) {
      offs.push({ code: 'bad-key', text: `trading off: ${errorText(err)}` });
    }
  }

  if (!existsSync(keyringFile)) {
    offs.push({
      code: 'no-keyring',
      text: `trading off: no keyring at ${keyringFile}; collect every home's \`powerdeal keys show\` line into it (docs/keys.md)`,
    });
  } else {
    try {
      const keyring = readKeyring(keyringFile);
      if (keyring.zone !== config.home.zone) {
        offs.push({
          code: 'bad-key',
          text: `trading off: keyring ${keyringFile} is for zone ${keyring.zone}, this home is in ${config.home.zone}; use the keyring of zone ${config.home.zone}`,
        });
      } else {
        keys.keyring = keyring;
        const own = keyring.members.get(config.home.id);
        if (!own) {
          keys.warnings.push(
            `${config.home.id} is not in the keyring ${keyringFile}: neighbours will refuse its messages; add the line \`powerdeal keys show\` prints to every home's keyring`,
          );
        } else if (publicKey !== null && !memberKeyTexts(keyring, config.home.id).includes(publicKey)) {
          keys.warnings.push(
            `the keyring ${keyringFile} holds another key for ${config.home.id} than ${privateKeyFile}: neighbours will refuse its messages; replace that line with the one \`powerdeal keys show\` prints`,
          );
        }
      }
    } catch (err) {
      offs.push({ code: 'bad-key', text: `trading off: ${errorText(err)}` });
    }
  }
  keys.off = offs[0] ?? null;
  return keys;
}

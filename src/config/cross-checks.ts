import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { errorText } from '../core/errors.js';
import type { ConfigProblem, CrossCheck } from './load.js';
import type { Config } from './schema.js';

/**
 * The whole-file checks that need only the config itself: unique device ids, readable secret files, and
 * the page's certificate and key.
 * Checks against profiles and key files live with what they check (src/devices/config-checks.ts,
 * src/setup/config-checks.ts); `powerdeal config check` runs them all through src/setup.
 */
export const configChecks: readonly CrossCheck[] = [uniqueIds, secretFileChecks, tlsChecks];

function uniqueIds(config: Config): ConfigProblem[] {
  const seen = new Map<string, number>();
  const problems: ConfigProblem[] = [];
  config.devices.forEach((d, i) => {
    const first = seen.get(d.id);
    if (first !== undefined) {
      problems.push({
        path: `devices.${i}.id`,
        message: `"${d.id}" is already used by devices.${first}: ids must be unique`,
      });
    } else seen.set(d.id, i);
  });
  return problems;
}

function secretFileChecks(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const files: [string, string | undefined][] = [
    ['mqtt.passwordFile', config.mqtt?.passwordFile],
    ['mqtt.caFile', config.mqtt?.caFile],
    ['homeassistant.passwordFile', config.homeassistant.passwordFile],
  ];
  for (const [path, file] of files) {
    if (!file) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      problems.push({
        path,
        message: `cannot read ${file}: create it (readable by the powerdeal user) or remove the key`,
      });
    }
  }
  return problems;
}

/**
 * `web.tls`: both files readable, PEM, and the key that of the certificate. The service refuses to start
 * otherwise rather than serve a page nobody can reach.
 */
function tlsChecks(config: Config): ConfigProblem[] {
  const tls = config.web.tls;
  if (!tls) return [];
  const problems: ConfigProblem[] = [];
  const read = (key: 'certFile' | 'keyFile'): string | undefined => {
    const file = tls[key];
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const fix =
        code === 'ENOENT'
          ? 'no such file: create it (sudo scripts/install.sh --tls makes a self-signed pair) or remove web.tls'
          : code === 'EACCES'
            ? 'permission denied: make it readable by the powerdeal user'
            : `${code ?? 'error'}: check the path`;
      problems.push({ path: `web.tls.${key}`, message: `cannot read ${file}: ${fix}` });
      return undefined;
    }
  };
  const certText = read('certFile');
  const keyText = read('keyFile');
  let cert: X509Certificate | undefined;
  let key: KeyObject | undefined;
  if (certText !== undefined) {
    try {
      if (!certText.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no "BEGIN CERTIFICATE" block');
      cert = new X509Certificate(certText);
    } catch (err) {
      problems.push({
        path: 'web.tls.certFile',
        message: `${tls.certFile} is not a PEM certificate (${errorText(err)})`,
      });
    }
  }
  if (keyText !== undefined) {
    try {
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyText))
        throw new Error('no "BEGIN PRIVATE KEY" block');
      key = createPrivateKey(keyText);
    } catch (err) {
      const encrypted = /ENCRYPTED/.test(keyText) || /passphrase/i.test(errorText(err));
      problems.push({
        path: 'web.tls.keyFile',
        message: encrypted
          ? `${tls.keyFile} is encrypted: the service cannot ask for a passphrase; store it decrypted (openssl pkey -in KEY -out ${tls.keyFile}), readable only by the powerdeal user`
          : `${tls.keyFile} is not a PEM private key (${errorText(err)})`,
      });
    }
  }
  if (cert && key && !cert.checkPrivateKey(key)) {
    problems.push({
      path: 'web.tls.keyFile',
      message: `${tls.keyFile} is not the key of the certificate in ${tls.certFile}`,
    });
  }
  return problems;
}

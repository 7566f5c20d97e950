import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { NO_PROMTOOL, PROMTOOL } from './promtool.js';

/** The shipped alert rules: valid for promtool, and every alert fires in its unit tests (and not too early). */
const DIR = resolve(import.meta.dirname, '../../docs/prometheus');

interface RuleTests {
  tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
}

describe.skipIf(PROMTOOL === null)(
  `docs/prometheus/alerts.yml${PROMTOOL === null ? ` (${NO_PROMTOOL})` : ''}`,
  () => {
    const promtool = (...args: string[]) =>
      spawnSync(PROMTOOL as string, args, { cwd: DIR, encoding: 'utf8' });

    it('passes promtool check rules', () => {
      const r = promtool('check', 'rules', 'alerts.yml');
      expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS: 8 rules found');
      expect(r.status).toBe(0);
    });

    it('passes its promtool unit tests', () => {
      const r = promtool('test', 'rules', 'alerts.test.yml');
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    });

    it('tests every alert both firing and quiet', () => {
      const rules = (
        parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] }
      ).groups.flatMap((g) => g.rules.map((r) => r.alert));
      const cases = (parse(readFileSync(join(DIR, 'alerts.test.yml'), 'utf8')) as RuleTests).tests.flatMap(
        (t) => t.alert_rule_test,
      );
      for (const alert of rules) {
        const mine = cases.filter((c) => c.alertname === alert);
        expect(
          mine.some((c) => c.exp_alerts.length > 0),
          `${alert} fires in a test`,
        ).toBe(true);
        expect(
          mine.some((c) => c.exp_alerts.length === 0),
          `${alert} is quiet in a test`,
        ).toBe(true);
      }
    });
  },
);

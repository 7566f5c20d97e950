import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type RouteParts, statusRoutes } from '../../src/web/routes.js';

interface Operation {
  security?: unknown[];
  responses: Record<string, unknown>;
}

/** The OpenAPI file and the served routes describe the same API. */
describe('docs/api/openapi.yaml', () => {
  const doc = parse(readFileSync('docs/api/openapi.yaml', 'utf8')) as {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
  };
  const routes = statusRoutes({ ctx: {} } as unknown as RouteParts);
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
  );

  it('documents every route, and only those (the page itself aside)', () => {
    const served = routes.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`).sort();
    expect(
      documented
        .map((d) => d.key)
        .filter((k) => k !== 'GET /')
        .sort(),
    ).toEqual(served);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('marks exactly the token-gated routes as needing the bearer token, with 401 and 403', () => {
    for (const r of routes) {
      const op = documented.find((d) => d.key === `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`)?.op;
      expect(op, r.path).toBeDefined();
      expect(Boolean(op?.security?.length), r.path).toBe(Boolean(r.auth));
      if (r.auth) expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(['401', '403']));
      if (r.method === 'POST') expect(r.auth, `${r.path} changes state`).toBe(true);
    }
  });
});

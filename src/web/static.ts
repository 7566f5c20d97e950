import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface StaticFile {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

/**
 * The page's files. They are plain files next to this module in the source tree (`src/web/assets`);
 * the compiled daemon in `dist/web` finds them there through the fallback, since tsc copies only code.
 */
function assetsDir(): string {
  const candidates = [
    new URL('./assets/', import.meta.url),
    new URL('../../src/web/assets/', import.meta.url),
  ];
  for (const url of candidates) {
    const dir = fileURLToPath(url);
    if (existsSync(`${dir}index.html`)) return dir;
  }
  throw new Error(`status page assets not found (looked in ${candidates.map((u) => u.pathname).join(', ')})`);
}

/**
 * Every file the page needs, loaded once at start and gzipped once: a fixed table (no path from the
 * request ever reaches the file system), and the chart library from the installed package, so the page
 * works with no internet.
 */
export function loadStaticFiles(dir = assetsDir()): Map<string, StaticFile> {
  const require = createRequire(import.meta.url);
  const sources: Record<string, string> = {
    '/': `${dir}index.html`,
    '/assets/app.js': `${dir}app.js`,
    '/assets/view.js': `${dir}view.js`,
    '/assets/chart.js': `${dir}chart.js`,
    '/assets/glance.js': `${dir}glance.js`,
    '/assets/slots.js': `${dir}slots.js`,
    '/assets/style.css': `${dir}style.css`,
    '/assets/icon.svg': `${dir}icon.svg`,
    '/assets/uPlot.min.js': require.resolve('uplot/dist/uPlot.iife.min.js'),
    '/assets/uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
  };
  const files = new Map<string, StaticFile>();
  for (const [path, file] of Object.entries(sources)) {
    const body = readFileSync(file);
    const ext = file.slice(file.lastIndexOf('.') + 1);
    const gz = gzipSync(body, { level: 9 });
    files.set(path, {
      body,
      gzip: gz.length < body.length ? gz : null,
      type: TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    });
  }
  return files;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, checked by the assertions
export type Json = any;

/** A minimal server-sent events reader over fetch, for asserting on what the daemon streams. */
export interface EventReader {
  /** The next event of this name (earlier events of other names are skipped). */
  next(name: string, timeoutMs?: number): Promise<Json>;
  retryMs(): number | null;
  /** Bytes received so far. */
  bytes(): number;
  close(): void;
}

export async function readEvents(url: string): Promise<EventReader> {
  const abort = new AbortController();
  const res = await fetch(url, { signal: abort.signal });
  if (res.status !== 200 || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const queue: { event: string; data: string }[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  let retry: number | null = null;
  let total = 0;
  let ended = false;
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        total += value.length;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('retry:')) retry = Number(line.slice(6));
            else if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          }
          if (data.length) queue.push({ event, data: data.join('\n') });
          end = buffer.indexOf('\n\n');
        }
        for (const w of waiters.splice(0)) w();
      }
    } catch {
      // aborted
    } finally {
      ended = true;
      for (const w of waiters.splice(0)) w();
    }
  })();
  return {
    async next(name, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = queue.findIndex((e) => e.event === name);
        if (i >= 0) {
          const [e] = queue.splice(0, i + 1).slice(-1);
          return JSON.parse(e?.data ?? 'null');
        }
        if (ended) throw new Error(`event stream ended before a ${name} event`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${name} event within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    retryMs: () => retry,
    bytes: () => total,
    close: () => abort.abort(),
  };
}

import type { Socket } from 'node:net';

/** Calls `onLine` for every newline-terminated line from `socket`; `onOverflow` when one grows past `max`. */
export function readLines(
  socket: Socket,
  max: number,
  onLine: (line: string) => void,
  onOverflow: () => void,
): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() !== '') onLine(line);
    }
    if (buffer.length > max) {
      buffer = '';
      onOverflow();
    }
  });
}

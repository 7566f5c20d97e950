import type { Logger } from '../../log/logger.js';
import type { GpioBackend, OutputLine } from './backend.js';

export type LedPattern = 'ok' | 'degraded' | 'fault' | 'off';

/**
 * What the LED shows: ok = steady on; degraded (a device faulted, the broker is away) = slow blink,
 * 1 s on / 1 s off; fault (the service cannot do its job) = fast blink, 125 ms on / 125 ms off.
 */
export const LED_PATTERNS: Record<LedPattern, { onMs: number; offMs: number } | 'on' | 'off'> = {
  ok: 'on',
  degraded: { onMs: 1000, offMs: 1000 },
  fault: { onMs: 125, offMs: 125 },
  off: 'off',
};

export interface StatusLed {
  setPattern(pattern: LedPattern): void;
  pattern(): LedPattern;
  /** Stops blinking, turns the LED off and releases the line. */
  stop(): Promise<void>;
}

/** The status LED on `panel.statusLed`. It owns its blink timer; nothing else writes the line. */
export async function createStatusLed(
  gpio: GpioBackend,
  cfg: { line: number; activeLow: boolean },
  opts: { log?: Logger } = {},
): Promise<StatusLed> {
  const line: OutputLine = await gpio.output(cfg.line, { activeLow: cfg.activeLow, initial: false });
  let current: LedPattern = 'off';
  let timer: NodeJS.Timeout | undefined;
  let lit = false;
  let stopped = false;

  const drive = (on: boolean) => {
    lit = on;
    line.write(on).catch((err: unknown) => opts.log?.warn({ err }, 'status LED write failed'));
  };

  const blink = (onMs: number, offMs: number) => {
    drive(!lit);
    timer = setTimeout(() => blink(onMs, offMs), lit ? onMs : offMs);
    timer.unref();
  };

  return {
    setPattern(pattern) {
      if (stopped || pattern === current) return;
      current = pattern;
      clearTimeout(timer);
      timer = undefined;
      const shape = LED_PATTERNS[pattern];
      if (shape === 'on') drive(true);
      else if (shape === 'off') drive(false);
      else {
        lit = false;
        blink(shape.onMs, shape.offMs);
      }
    },
    pattern: () => current,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      current = 'off';
      lit = false;
      await line.write(false);
      await line.close();
    },
  };
}

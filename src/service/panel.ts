import type { TimerHandle } from '../core/clock.js';
import {
  createButton,
  createStatusLed,
  type GpioBackend,
  type LedPattern,
  type StatusLed,
  type TechnicianButton,
} from '../devices/gpio/index.js';
import type { Logger } from '../log/logger.js';
import type { ServiceStatus } from '../views/status.js';
import type { ServiceContext } from './context.js';

/**
 * The enclosure's panel: a status LED that shows the service's health at a glance and a technician
 * button whose press writes one status line to the log (read with journalctl on site).
 */
export class Panel {
  private led: StatusLed | undefined;
  private button: TechnicianButton | undefined;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly gpio: GpioBackend,
    private readonly status: () => ServiceStatus,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { statusLed, button } = this.ctx.config.panel;
    if (statusLed) {
      const led = await createStatusLed(this.gpio, statusLed, { log: this.log });
      this.led = led;
      const show = () => {
        this.timer = this.ctx.clock.setTimer(show, 1000);
        led.setPattern(ledPattern(this.status()));
      };
      show();
    }
    if (button) {
      this.button = await createButton(this.gpio, button);
      this.button.on('press', () => {
        const s = this.status();
        this.log.info(
          {
            cycle: s.cycle?.cycles,
            devices: s.devices.map((d) => `${d.id}:${d.state}`),
            link: s.link?.connected,
            outbox: s.outbox?.depth,
          },
          'technician button: status',
        );
      });
      this.button.on('longPress', () => this.log.info('technician button: long press (no action assigned)'));
    }
  }

  async stop(): Promise<void> {
    this.ctx.clock.clearTimer(this.timer);
    this.timer = undefined;
    await this.led?.stop();
    await this.button?.stop();
  }
}

/** fault: the service cannot do its job; degraded: a device or the broker is away; ok otherwise. */
function ledPattern(s: ServiceStatus): LedPattern {
  const essentialDown = s.modules.some(
    (m) => m.state === 'failed' && ['store', 'hardware', 'cycle'].includes(m.name),
  );
  if (essentialDown || s.cycle?.running !== true) return 'fault';
  const deviceDown = s.devices.some((d) => d.state === 'fault');
  const linkDown = s.link !== null && !s.link.connected;
  return deviceDown || linkDown ? 'degraded' : 'ok';
}

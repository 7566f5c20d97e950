import type { FaultCounts, FaultProfile } from './faults.js';
import type { Random } from './random.js';

/**
 * The network between the homes and the broker: latencies, and the seeded faults of the fault profile.
 * Faults apply only while `faulty` is on (it goes off for the heal period); the latencies always do.
 */
export interface PublishFate {
  /** The PUBLISH never reaches the broker. */
  lost: boolean;
  delayMs: number;
  /** The broker's PUBACK never reaches the home. */
  pubackLost: boolean;
  pubackDelayMs: number;
}

export interface DeliveryFate {
  /** One delay per copy delivered: none = dropped, two = duplicated. */
  copiesMs: number[];
  /** Held back until the next delivery to the same home has gone by. */
  reorder: boolean;
}

export class Network {
  faulty = true;
  private readonly cut = new Map<string, number>();

  constructor(
    private readonly rnd: Random,
    private readonly profile: FaultProfile,
    private readonly counts: FaultCounts,
  ) {}

  publishFate(): PublishFate {
    const p = this.profile;
    const lost = this.faulty && this.rnd.chance(p.publishLoss);
    const pubackLost = !lost && this.faulty && this.rnd.chance(p.pubackLoss);
    if (lost) this.counts.publishesLost++;
    if (pubackLost) this.counts.pubacksLost++;
    return { lost, delayMs: this.rnd.int(2, 20), pubackLost, pubackDelayMs: this.rnd.int(2, 20) };
  }

  deliveryFate(): DeliveryFate {
    const p = this.profile;
    const base = this.rnd.int(2, 30);
    if (!this.faulty) return { copiesMs: [base], reorder: false };
    if (this.rnd.chance(p.drop)) {
      this.counts.dropped++;
      return { copiesMs: [], reorder: false };
    }
    let first = base;
    if (this.rnd.chance(p.delay)) {
      this.counts.delayed++;
      first += this.rnd.int(100, Math.max(100, p.maxDelayMs));
    }
    const copiesMs = [first];
    if (this.rnd.chance(p.duplicate)) {
      this.counts.duplicated++;
      copiesMs.push(first + this.rnd.int(1, Math.max(1, p.maxDelayMs)));
    }
    const reorder = this.rnd.chance(p.reorder);
    if (reorder) this.counts.reordered++;
    return { copiesMs, reorder };
  }

  /** Cuts the home off (partitions may overlap: it stays cut until each has healed). */
  partition(home: string): void {
    this.cut.set(home, (this.cut.get(home) ?? 0) + 1);
  }

  /** Returns true when the home is reachable again. */
  heal(home: string): boolean {
    const n = (this.cut.get(home) ?? 0) - 1;
    if (n <= 0) this.cut.delete(home);
    else this.cut.set(home, n);
    return n <= 0;
  }

  healAll(): string[] {
    const homes = [...this.cut.keys()];
    this.cut.clear();
    return homes;
  }

  isCut(home: string): boolean {
    return this.cut.has(home);
  }
}

/**
 * What can go wrong in a simulated neighbourhood, and how often. Rates are per delivery or per publish
 * (shares in [0, 1]) or per hour (Poisson processes); durations are [min, max] ms drawn uniformly. Every
 * fault stops at the start of the heal period, so re-sends and settlements can finish before the checks.
 */
export interface FaultProfile {
  /** Broker → subscriber: share of deliveries lost. */
  drop: number;
  /** Share of deliveries that take a random extra 0.1 s .. maxDelayMs (later ones overtake them). */
  delay: number;
  maxDelayMs: number;
  /** Share of deliveries that arrive twice. */
  duplicate: number;
  /** Share of deliveries held back until the next delivery to the same home has gone by. */
  reorder: number;
  /** Home → broker: share of publishes lost on the way (no PUBACK: re-sent after the ack timeout). */
  publishLoss: number;
  /** Share of PUBACKs lost: the broker has the message and gets it again (a duplicate downstream). */
  pubackLoss: number;
  /** Partitions per hour across the zone: a group of 1..⌈N/2⌉ homes cut off from the broker. */
  partitionsPerHour: number;
  partitionMs: [number, number];
  /** Process deaths per home per hour (between steps, right after a commit, or mid-commit). */
  crashesPerHomeHour: number;
  /** How long a dead home stays down before it restarts from its store. */
  downMs: [number, number];
  /** Meter outages per home per hour: grid readings stale or faulted for a while. */
  meterFaultsPerHomeHour: number;
  meterFaultMs: [number, number];
  /** Messages per hour from a rogue client: forged, unsigned, tampered, replayed, garbage. */
  roguePerHour: number;
  /** An MQTT 3.1.1 broker: no message expiry (stale retained offers are delivered), no No Local. */
  legacyBroker: boolean;
  /**
   * Retained messages are never replayed to wildcard subscriptions (RabbitMQ 3.10): buyers learn the
   * offers made before they subscribed only through offer requests. Default false.
   */
  noRetainedToWildcard?: boolean;
}

export const NO_FAULTS: FaultProfile = {
  drop: 0,
  delay: 0,
  maxDelayMs: 0,
  duplicate: 0,
  reorder: 0,
  publishLoss: 0,
  pubackLoss: 0,
  partitionsPerHour: 0,
  partitionMs: [0, 0],
  crashesPerHomeHour: 0,
  downMs: [0, 0],
  meterFaultsPerHomeHour: 0,
  meterFaultMs: [0, 0],
  roguePerHour: 0,
  legacyBroker: false,
};

/** Every fault at once, at rates that make a few hours of six homes meet each of them many times. */
export const ALL_FAULTS: FaultProfile = {
  drop: 0.03,
  delay: 0.1,
  maxDelayMs: 20_000,
  duplicate: 0.05,
  reorder: 0.05,
  publishLoss: 0.03,
  pubackLoss: 0.03,
  partitionsPerHour: 1.5,
  partitionMs: [30_000, 600_000],
  crashesPerHomeHour: 0.7,
  downMs: [5_000, 300_000],
  meterFaultsPerHomeHour: 0.5,
  meterFaultMs: [20_000, 600_000],
  roguePerHour: 20,
  legacyBroker: false,
};

/** Faults injected during a run, by kind. */
export interface FaultCounts {
  dropped: number;
  delayed: number;
  duplicated: number;
  reordered: number;
  publishesLost: number;
  pubacksLost: number;
  partitions: number;
  crashes: { betweenSteps: number; afterCommit: number; midCommit: number };
  meterFaults: number;
  /** Messages an offline home's broker session could not hold. */
  sessionOverflow: number;
  rogueMessages: number;
}

export function zeroFaultCounts(): FaultCounts {
  return {
    dropped: 0,
    delayed: 0,
    duplicated: 0,
    reordered: 0,
    publishesLost: 0,
    pubacksLost: 0,
    partitions: 0,
    crashes: { betweenSteps: 0, afterCommit: 0, midCommit: 0 },
    meterFaults: 0,
    sessionOverflow: 0,
    rogueMessages: 0,
  };
}

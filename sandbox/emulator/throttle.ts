import type { Clock } from '#shared/clock.ts';

/**
 * Request-rate limits of the emulator: one token bucket per (account, service), refilled on the VIRTUAL clock.
 *
 * ASSUMPTION (listed in docs/emulator-fidelity.md): AWS publishes no per-API request rate for the Managed Service for
 * Apache Flink control plane (its quota page lists applications, KPUs and snapshots per Region, not calls per second),
 * nor a rate for the Resource Groups Tagging API's GetResources; CloudWatch publishes per-API TPS quotas that vary
 * by Region and change over time (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html).
 * So throttling is off unless a caller sets a rate, and the bucket is the usual model of an AWS rate limit (a steady
 * rate plus a burst), per account because AWS quotas are per account and Region.
 *
 * Time is virtual: a bucket refills only when the shared clock moves. A client that retries without the virtual clock
 * moving (the SDK's backoff sleeps in wall time) keeps being throttled until its retries run out.
 */

/** A request-rate limit: `ratePerSecond` tokens are added each virtual second, up to `burst` tokens. */
export interface RateLimit {
  /** Requests per virtual second in the long run (> 0). */
  readonly ratePerSecond: number;
  /** Requests that can be made at once after a quiet period (bucket size, >= 1). */
  readonly burst: number;
}

/** The services the emulator can throttle, by their IAM/endpoint prefix. */
export type ThrottledService = 'kinesisanalytics' | 'cloudwatch' | 'tagging' | 'sts' | 'logs' | 'ssm';

/** Limits per service; a service without a limit is never throttled. @default {} (nothing throttled) */
export type ThrottleOptions = Partial<Record<ThrottledService, RateLimit>>;

interface Bucket {
  tokens: number;
  atMs: number;
}

/**
 * Checks a {@link ThrottleOptions} value.
 * @throws RangeError naming the field when a rate or a burst is not a positive finite number (burst >= 1).
 */
export function validateThrottleOptions(options: ThrottleOptions): void {
  for (const [service, limit] of Object.entries(options)) {
    if (limit === undefined) continue;
    if (!Number.isFinite(limit.ratePerSecond) || limit.ratePerSecond <= 0) {
      throw new RangeError(
        `throttle.${service}.ratePerSecond must be a positive number of requests per second (got ${limit.ratePerSecond})`,
      );
    }
    if (!Number.isFinite(limit.burst) || limit.burst < 1) {
      throw new RangeError(`throttle.${service}.burst must be a number of requests >= 1 (got ${limit.burst})`);
    }
  }
}

/** Token buckets per (account, service) on the virtual clock. */
export class RequestThrottle {
  readonly #clock: Clock;
  readonly #limits: ThrottleOptions;
  readonly #buckets = new Map<string, Bucket>();

  /** @throws RangeError when a limit is invalid (see {@link validateThrottleOptions}). */
  constructor(clock: Clock, limits: ThrottleOptions = {}) {
    validateThrottleOptions(limits);
    this.#clock = clock;
    this.#limits = limits;
  }

  /**
   * Takes one token for a request of `accountId` to `service` at the clock's now.
   * @returns true when the request may proceed, false when it is throttled (no token taken).
   */
  admit(accountId: string, service: ThrottledService): boolean {
    const limit = this.#limits[service];
    if (!limit) return true;
    const now = this.#clock.now();
    const key = `${accountId}:${service}`;
    const bucket = this.#buckets.get(key) ?? { tokens: limit.burst, atMs: now };
    const elapsedMs = Math.max(0, now - bucket.atMs);
    bucket.tokens = Math.min(limit.burst, bucket.tokens + (elapsedMs / 1000) * limit.ratePerSecond);
    bucket.atMs = Math.max(bucket.atMs, now);
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

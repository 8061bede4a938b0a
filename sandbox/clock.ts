import type { Clock } from '#shared/clock.ts';

/**
 * A clock that only moves when told to: a 30-minute incident runs in a few wall-clock seconds.
 * Shared by the emulator, the handlers and the drill runner so all of them see the same "now".
 */
export class VirtualClock implements Clock {
  #now: number;

  /** @param startMs the virtual start time, epoch ms. */
  constructor(startMs: number) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `ms` milliseconds. @throws RangeError on a negative step. */
  advance(ms: number): number {
    if (ms < 0) throw new RangeError(`VirtualClock cannot go backwards (advance by ${ms} ms)`);
    this.#now += ms;
    return this.#now;
  }

  /** Moves the clock to `epochMs` if it lies ahead; never moves it back. */
  advanceTo(epochMs: number): number {
    if (epochMs > this.#now) this.#now = epochMs;
    return this.#now;
  }
}

/** A clock that runs `speed` times faster than the wall clock, for `flink-watchdog sandbox`. */
export class ScaledClock implements Clock {
  readonly #startWall: number;
  readonly #startVirtual: number;
  readonly #speed: number;

  constructor(startVirtualMs: number, speed: number, wallNow: () => number = Date.now) {
    this.#startWall = wallNow();
    this.#startVirtual = startVirtualMs;
    this.#speed = speed;
    this.wallNow = wallNow;
  }

  private readonly wallNow: () => number;

  now(): number {
    return this.#startVirtual + Math.floor((this.wallNow() - this.#startWall) * this.#speed);
  }
}

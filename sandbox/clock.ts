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

/** Highest speed `SandboxClock` accepts: one virtual hour per wall-clock second. */
export const MAX_SANDBOX_SPEED = 3600;

/**
 * A clock that any client can drive, from outside the process: what the emulator's `/sandbox/clock` endpoint controls
 * (see sandbox/emulator/server.ts). The server serves that endpoint only for a clock that has these members.
 */
export interface DrivableClock extends Clock {
  /** Virtual seconds per wall-clock second; 0 = paused. */
  readonly speed: number;
  /**
   * Moves the clock forward by `ms` milliseconds, at once; it then keeps running at {@link speed}.
   * @returns the new now, epoch ms.
   * @throws RangeError on a negative or non-finite step.
   */
  advance(ms: number): number;
  /**
   * Changes the speed from now on (the virtual time already elapsed is kept).
   * @throws RangeError unless 0 ≤ speed ≤ {@link MAX_SANDBOX_SPEED}.
   */
  setSpeed(speed: number): void;
}

/** True when `clock` can be driven from outside ({@link DrivableClock}): a {@link SandboxClock}, or a test's own. */
export function isDrivableClock(clock: Clock): clock is DrivableClock {
  const c = clock as Partial<DrivableClock>;
  return typeof c.speed === 'number' && typeof c.advance === 'function' && typeof c.setSpeed === 'function';
}

/** A wall clock that never goes back (the process's monotonic clock, in epoch ms). */
const monotonicWallNow = (): number => performance.timeOrigin + performance.now();

/** Whether `speed` is a sandbox speed: a finite number of virtual seconds per wall-clock second, 0 to {@link MAX_SANDBOX_SPEED}. */
export function isSandboxSpeed(speed: unknown): speed is number {
  return typeof speed === 'number' && Number.isFinite(speed) && speed >= 0 && speed <= MAX_SANDBOX_SPEED;
}

function checkSpeed(speed: number): number {
  if (!isSandboxSpeed(speed)) {
    throw new RangeError(`speed must be a number from 0 (paused) to ${MAX_SANDBOX_SPEED} (got ${speed})`);
  }
  return speed;
}

/**
 * The clock of `flink-watchdog sandbox`: virtual time runs `speed` times as fast as the wall clock, stands still at
 * speed 0 (paused), and jumps forward by a step with {@link advance}. It never goes back.
 *
 * Internally it keeps an anchor (a wall instant and the virtual instant it maps to); `now()` is
 * `anchorVirtual + floor((wall − anchorWall) × speed)`. Changing the speed or stepping moves the anchor to the present,
 * so virtual time already elapsed is kept.
 */
export class SandboxClock implements DrivableClock {
  readonly #wallNow: () => number;
  #anchorWall: number;
  #anchorVirtual: number;
  #speed: number;

  /**
   * @param startMs the virtual start time, epoch ms.
   * @param speed virtual seconds per wall-clock second, 0 (paused) to {@link MAX_SANDBOX_SPEED}.
   * @param wallNow the wall clock, epoch ms. @default the process's monotonic clock
   * @throws RangeError when `speed` is out of range or `startMs` is not a finite number.
   */
  constructor(startMs: number, speed: number, wallNow: () => number = monotonicWallNow) {
    if (!Number.isFinite(startMs)) throw new RangeError(`startMs must be epoch milliseconds (got ${startMs})`);
    this.#speed = checkSpeed(speed);
    this.#wallNow = wallNow;
    this.#anchorWall = wallNow();
    this.#anchorVirtual = startMs;
  }

  get speed(): number {
    return this.#speed;
  }

  now(): number {
    return this.#anchorVirtual + Math.floor((this.#wallNow() - this.#anchorWall) * this.#speed);
  }

  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`SandboxClock cannot go backwards (advance by ${ms} ms)`);
    this.#reanchor();
    this.#anchorVirtual += ms;
    return this.#anchorVirtual;
  }

  setSpeed(speed: number): void {
    checkSpeed(speed);
    this.#reanchor();
    this.#speed = speed;
  }

  /** Pauses the clock: the same as `setSpeed(0)`. */
  pause(): void {
    this.setSpeed(0);
  }

  #reanchor(): void {
    const wall = this.#wallNow();
    this.#anchorVirtual += Math.floor((wall - this.#anchorWall) * this.#speed);
    this.#anchorWall = wall;
  }
}

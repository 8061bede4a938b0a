/**
 * The source of time for everything in `shared/`. Domain code never reads the wall clock itself:
 * production passes {@link systemClock}; the drill and tests pass a virtual clock that they advance.
 */
export interface Clock {
  /** Current time as epoch milliseconds (UTC). */
  now(): number;
}

/** The real wall clock, for Lambda handlers and the CLI against real AWS. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * The source of time for everything in `shared/`. Domain code never reads the wall clock itself:
 * production passes `systemClock` (shared/adapters/system-clock.ts); the drill and tests pass a virtual clock that they advance.
 */
export interface Clock {
  /** Current time as epoch milliseconds (UTC). */
  now(): number;
}

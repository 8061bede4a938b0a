import type { Clock } from '#shared/clock.ts';

/** The real wall clock, for Lambda handlers and the CLI against real AWS. The only wall-clock read in shared/. */
export const systemClock: Clock = { now: () => Date.now() };

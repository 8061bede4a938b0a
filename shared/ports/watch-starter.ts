import type { WatchInput } from '#shared/domain/watch.ts';

/**
 * Starts a watch (shared/domain/watch.ts). In AWS: a Step Functions execution of the watch workflow named after the
 * watch (`input.watch.name`); in the drill: the local runner of the same definition.
 */
export interface WatchStarter {
  /**
   * Starts the watch's execution with `input` as its input.
   * @returns false when an execution of that name already exists (the same situation is already watched).
   * @throws the service error for anything else.
   */
  start(input: WatchInput): Promise<boolean>;
}

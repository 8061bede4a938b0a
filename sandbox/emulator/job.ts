import { flinkVersion } from '#sandbox/emulator/metric-publisher.ts';
import { type JobBehaviour, type JobRule, RestartStrategy } from '#sandbox/scenario.ts';

/**
 * The Flink job model of the emulator: which behaviour a submitted application version has (from the scenario's
 * `jobModel` rules), and how a submitted job runs, fails and is restarted by Flink's restart strategy.
 *
 * Pure and clock-free: every method takes the time (epoch ms) it should reason about.
 */

/** Seconds a running job survives after an outage of a dependency begins (Fault kind `outage`). */
export const OUTAGE_FAIL_AFTER_SECONDS = 20;

/**
 * Flink's `restart-strategy.exponential-delay.reset-backoff-threshold` default (1 h): after running this long without a
 * failure, the next failure starts the backoff from `initialBackoff` again.
 */
export const BACKOFF_RESET_THRESHOLD_MS = 60 * 60 * 1000;

/**
 * MSF cannot take a snapshot (savepoint) of a job that is down or that restarted less than this long ago: the
 * emulator's rule for "the application is currently experiencing downtime".
 */
export const SNAPSHOT_STABLE_WINDOW_MS = 120 * 1000;

/** A window in which an external dependency of one application is down. Epoch ms; `toMs` undefined = never ends. */
export interface OutageWindow {
  readonly fromMs: number;
  readonly toMs?: number;
  /** The exception the job fails with while the dependency is down. */
  readonly error: string;
}

/** The parts of an application version's configuration that `JobRule.when` can match. */
export interface JobRuleSubject {
  /** ApplicationName. */
  readonly application: string;
  /** S3ApplicationCodeLocationDescription.FileKey. */
  readonly codeKey: string;
  /** EnvironmentPropertyDescriptions.PropertyGroupDescriptions as group id → key → value. */
  readonly properties: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Minutes since the scenario start at which the job is submitted (for `when.submittedBeforeMinute`). */
  readonly atMinute?: number;
}

/**
 * Base duration (ms) of a completed checkpoint in the job model (`lastCheckpointDuration`). Assumption: a small,
 * steady state; no AWS or Flink default exists for it. See {@link checkpointStats}.
 */
export const CHECKPOINT_DURATION_MS = 1_000;

/** Base size (bytes) of a completed checkpoint in the job model (`lastCheckpointSize`). Assumption: 1 MiB of state. */
export const CHECKPOINT_SIZE_BYTES = 1_048_576;

/**
 * Duration (ms) and size (bytes) of the `n`-th completed checkpoint of a job (1-based). Assumption: a real job's
 * checkpoints never take exactly the same milliseconds nor hold exactly the same bytes twice in a row, so the model
 * varies them deterministically around the base values: duration 1000–1499 ms, size 1 MiB + 0–64 KiB, and two
 * consecutive checkpoints always differ in both.
 */
export function checkpointStats(n: number): { readonly durationMs: number; readonly sizeBytes: number } {
  return {
    durationMs: CHECKPOINT_DURATION_MS + ((n * 7_919) % 500),
    sizeBytes: CHECKPOINT_SIZE_BYTES + ((n * 104_729) % 65_536),
  };
}

/** A restart strategy with its type decided (see {@link resolveRestartStrategy}). Seconds. */
export type ResolvedRestartStrategy = RestartStrategy & { readonly type: 'exponential-delay' | 'fixed-delay' };

/**
 * The restart strategy a job of `runtimeEnvironment` runs with: the scenario's own settings, and when the scenario does
 * not name a type, MSF's default for the runtime: "From Flink 1.19 and later, we use the exponential-delay restart
 * strategy by default. All previous versions use the fixed-delay restart strategy by default" (MSF developer guide,
 * "Modifiable Flink configuration properties", Restart strategy,
 * https://docs.aws.amazon.com/managed-flink/latest/java/reference-modifiable-settings.html). A runtime that is not
 * `FLINK-<major>_<minor>` counts as before 1.19 (assumption: only old runtimes are spelled otherwise).
 * The numeric defaults (initial backoff 1 s, ×1.5, max 60 s) are Flink's `restart-strategy.exponential-delay.*` and
 * `restart-strategy.fixed-delay.delay` (1 s) defaults (Flink configuration reference, Fault Tolerance).
 */
export function resolveRestartStrategy(
  runtimeEnvironment: string,
  spec: RestartStrategy = RestartStrategy.parse({}),
): ResolvedRestartStrategy {
  if (spec.type !== undefined) return { ...spec, type: spec.type };
  const version = flinkVersion(runtimeEnvironment);
  const exponential = version !== undefined && (version[0] > 1 || version[1] >= 19);
  return { ...spec, type: exponential ? 'exponential-delay' : 'fixed-delay' };
}

/**
 * Checkpoint interval (ms) of a job from the application's CheckpointConfiguration, or undefined when checkpointing is
 * off. With ConfigurationType DEFAULT, MSF uses CheckpointingEnabled true and CheckpointInterval 60000 "even if they
 * are set to other values" (API model, CheckpointConfiguration).
 */
export function checkpointIntervalMs(config: {
  readonly configurationType: string;
  readonly checkpointingEnabled: boolean;
  readonly checkpointInterval: number;
}): number | undefined {
  if (config.configurationType === 'DEFAULT') return 60_000;
  return config.checkpointingEnabled ? config.checkpointInterval : undefined;
}

/** Result of {@link resolveJobBehaviour}: the behaviour, and the index of the rule that gave it (-1 = default). */
export interface ResolvedBehaviour {
  readonly behaviour: JobBehaviour;
  readonly ruleIndex: number;
}

/** `true` when every field given in `rule.when` matches `subject`. */
export function ruleMatches(rule: JobRule, subject: JobRuleSubject): boolean {
  const { application, codeKey, property, submittedBeforeMinute } = rule.when;
  if (
    submittedBeforeMinute !== undefined &&
    subject.atMinute !== undefined &&
    subject.atMinute >= submittedBeforeMinute
  ) {
    return false;
  }
  if (application !== undefined && application !== subject.application) return false;
  if (codeKey !== undefined && codeKey !== subject.codeKey) return false;
  if (property !== undefined && subject.properties[property.group]?.[property.key] !== property.value) return false;
  return true;
}

/**
 * The behaviour of a job submitted for an application version: the first rule of the scenario's `jobModel` whose
 * `when` matches, else `healthy` (ruleIndex -1).
 */
export function resolveJobBehaviour(rules: readonly JobRule[], subject: JobRuleSubject): ResolvedBehaviour {
  const ruleIndex = rules.findIndex((rule) => ruleMatches(rule, subject));
  const rule = rules[ruleIndex];
  return rule ? { behaviour: rule.behaviour, ruleIndex } : { behaviour: { kind: 'healthy' }, ruleIndex: -1 };
}

/**
 * Time (ms) from the `failureIndex`-th failure (0-based, counted since the last backoff reset) until the job runs
 * again: the restart strategy's backoff plus `restartDurationSeconds`.
 * - exponential-delay: `min(initialBackoff * backoffMultiplier^failureIndex, maxBackoff)`;
 * - fixed-delay: `initialBackoff` every time.
 */
export function restartDelayMs(strategy: ResolvedRestartStrategy, failureIndex: number): number {
  const backoffSeconds =
    strategy.type === 'fixed-delay'
      ? strategy.initialBackoffSeconds
      : Math.min(
          strategy.initialBackoffSeconds * strategy.backoffMultiplier ** failureIndex,
          strategy.maxBackoffSeconds,
        );
  return Math.round((backoffSeconds + strategy.restartDurationSeconds) * 1000);
}

/** What a running Flink job reports at a point in time (the source of the AWS/KinesisAnalytics metrics). */
export interface JobStatus {
  /** Job is RUNNING in Flink terms (not failing/restarting). */
  readonly running: boolean;
  /** Restarts since the job was submitted (Flink `numRestarts`, MSF `fullRestarts`); counted when a restart begins. */
  readonly restarts: number;
  /**
   * Failed checkpoints since submission (`numberOfFailedCheckpoints`): a checkpoint that fails (behaviour
   * `checkpoint-failing`), and one per job failure (assumption, kept from the first job model: each failure aborts the
   * in-flight checkpoint).
   */
  readonly failedCheckpoints: number;
  /** Completed checkpoints since submission (Flink `numberOfCompletedCheckpoints`; MSF does not publish it). */
  readonly completedCheckpoints: number;
  /** Duration of the last completed checkpoint, ms (`lastCheckpointDuration`); undefined before the first one. */
  readonly lastCheckpointDurationMs?: number;
  /** Size of the last completed checkpoint, bytes (`lastCheckpointSize`); undefined before the first one. */
  readonly lastCheckpointSizeBytes?: number;
  /** Epoch ms at which the last checkpoint completed, if any. */
  readonly lastCompletedCheckpointMs?: number;
  /** ms running since the last (re)start; 0 while down (`uptime`). */
  readonly uptimeMs: number;
  /** ms down since the last failure; 0 while running (`downtime`). */
  readonly downtimeMs: number;
  /** Epoch ms of the last failure, if any. */
  readonly lastFailureMs?: number;
  /** Exception of the last failure, if any. */
  readonly lastError?: string;
}

/**
 * How a submitted job behaves once it runs: healthy, failing after a while each time it is (re)started, or running
 * while every checkpoint fails.
 */
export type RunningBehaviour =
  | { readonly kind: 'healthy' }
  | { readonly kind: 'crash-loop'; readonly failAfterSeconds: number; readonly error: string }
  | { readonly kind: 'checkpoint-failing'; readonly error: string };

/** Construction parameters of {@link FlinkJob}. */
export interface FlinkJobOptions {
  /** Epoch ms at which the job starts running (end of the MSF transition that submitted it). */
  readonly submittedAtMs: number;
  readonly behaviour: RunningBehaviour;
  readonly restartStrategy: ResolvedRestartStrategy;
  /** Outages of the application's dependencies; the job fails while one is active. */
  readonly outages?: readonly OutageWindow[];
  /**
   * Checkpoint interval, ms (see {@link checkpointIntervalMs}); undefined = checkpointing off. Checkpoints are triggered
   * every interval while the job runs, the first one an interval after it starts running. @default undefined
   */
  readonly checkpointIntervalMs?: number;
  /**
   * Told of each failure of the job (crash-loop behaviour or an outage; not an MSF maintenance restart), at the
   * failure's time (epoch ms) with its exception: what the MSF emulator writes to the application's log stream.
   */
  readonly onFailure?: (atMs: number, error: string) => void;
}

/**
 * One submitted Flink job, simulated event by event: it runs, fails (crash-loop behaviour or an outage), waits for the
 * restart strategy's backoff plus the restart duration, runs again. Counters start at 0 on submission; a new
 * submission (start, update, rollback) is a new FlinkJob.
 */
export class FlinkJob {
  readonly submittedAtMs: number;
  readonly #behaviour: RunningBehaviour;
  readonly #strategy: ResolvedRestartStrategy;
  readonly #outages: readonly OutageWindow[];
  readonly #checkpointIntervalMs: number | undefined;
  readonly #onFailure: ((atMs: number, error: string) => void) | undefined;
  #nowMs: number;
  #running = true;
  /** Start of the current phase: running since, or down since. */
  #sinceMs: number;
  #restartAtMs = Number.POSITIVE_INFINITY;
  #restarts = 0;
  #failedCheckpoints = 0;
  #completedCheckpoints = 0;
  #lastCompletedCheckpointMs: number | undefined;
  #nextCheckpointMs = Number.POSITIVE_INFINITY;
  #failureIndex = 0;
  #lastFailureMs: number | undefined;
  #lastError: string | undefined;

  constructor(opts: FlinkJobOptions) {
    this.submittedAtMs = opts.submittedAtMs;
    this.#behaviour = opts.behaviour;
    this.#strategy = opts.restartStrategy;
    this.#outages = opts.outages ?? [];
    this.#checkpointIntervalMs = opts.checkpointIntervalMs;
    this.#onFailure = opts.onFailure;
    this.#nowMs = opts.submittedAtMs;
    this.#sinceMs = opts.submittedAtMs;
    this.#scheduleCheckpoint(opts.submittedAtMs);
  }

  /** Processes every failure, restart and checkpoint up to `epochMs`, in time order. Never goes backwards. */
  advanceTo(epochMs: number): void {
    if (epochMs <= this.#nowMs) return;
    for (;;) {
      const next = this.#running ? this.#nextFailure() : { atMs: this.#restartAtMs, error: undefined };
      const checkpointFirst = this.#running && this.#nextCheckpointMs <= Math.min(next.atMs, epochMs);
      if (checkpointFirst) {
        this.#checkpoint(this.#nextCheckpointMs);
        continue;
      }
      if (next.atMs > epochMs) break;
      if (this.#running) this.#fail(next.atMs, next.error ?? 'job failed');
      else this.#restart(next.atMs);
    }
    this.#nowMs = epochMs;
  }

  /**
   * A restart MSF makes itself, not the job's failure (maintenance, developer guide "Manage maintenance tasks": "your
   * Managed Service for Apache Flink application will be restarted. This causes a downtime of 10 to 30 seconds",
   * https://docs.aws.amazon.com/managed-flink/latest/java/maintenance.html). The job goes down at `atMs` and runs
   * again `downMs` later; the restart counter grows by one ("Restarts can occur during internal maintenance",
   * fullRestarts, MSF metrics page) and the restart strategy's backoff is not advanced. No effect while the job is
   * already down. Advances the job to `atMs` first.
   */
  restartNow(atMs: number, downMs: number, reason: string): void {
    this.advanceTo(atMs);
    if (!this.#running) return;
    this.#running = false;
    this.#sinceMs = atMs;
    this.#restarts += 1;
    this.#lastFailureMs = atMs;
    this.#lastError = reason;
    this.#restartAtMs = atMs + downMs;
    this.#nextCheckpointMs = Number.POSITIVE_INFINITY;
  }

  /** The job's status at the time it was last advanced to. */
  status(): JobStatus {
    const phaseMs = this.#nowMs - this.#sinceMs;
    return {
      running: this.#running,
      restarts: this.#restarts,
      failedCheckpoints: this.#failedCheckpoints,
      completedCheckpoints: this.#completedCheckpoints,
      ...(this.#lastCompletedCheckpointMs === undefined
        ? {}
        : {
            lastCheckpointDurationMs: checkpointStats(this.#completedCheckpoints).durationMs,
            lastCheckpointSizeBytes: checkpointStats(this.#completedCheckpoints).sizeBytes,
            lastCompletedCheckpointMs: this.#lastCompletedCheckpointMs,
          }),
      uptimeMs: this.#running ? phaseMs : 0,
      downtimeMs: this.#running ? 0 : phaseMs,
      ...(this.#lastFailureMs === undefined ? {} : { lastFailureMs: this.#lastFailureMs }),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  /**
   * Whether MSF could take a snapshot now: the job is running and has not failed within
   * {@link SNAPSHOT_STABLE_WINDOW_MS}. Advance the job to `epochMs` first.
   */
  canTakeSnapshot(epochMs: number): boolean {
    if (!this.#running) return false;
    return this.#lastFailureMs === undefined || epochMs - this.#lastFailureMs >= SNAPSHOT_STABLE_WINDOW_MS;
  }

  #nextFailure(): { atMs: number; error?: string } {
    let best: { atMs: number; error?: string } = { atMs: Number.POSITIVE_INFINITY };
    if (this.#behaviour.kind === 'crash-loop') {
      best = { atMs: this.#sinceMs + this.#behaviour.failAfterSeconds * 1000, error: this.#behaviour.error };
    }
    for (const outage of this.#outages) {
      const failAt = Math.max(this.#sinceMs, outage.fromMs) + OUTAGE_FAIL_AFTER_SECONDS * 1000;
      const stillDown = outage.toMs === undefined || failAt < outage.toMs;
      if (stillDown && failAt < best.atMs) best = { atMs: failAt, error: outage.error };
    }
    return best;
  }

  #scheduleCheckpoint(runningSinceMs: number): void {
    this.#nextCheckpointMs =
      this.#checkpointIntervalMs === undefined ? Number.POSITIVE_INFINITY : runningSinceMs + this.#checkpointIntervalMs;
  }

  /** A checkpoint triggered at `atMs` completes at once, or fails under `checkpoint-failing`; the next is scheduled. */
  #checkpoint(atMs: number): void {
    if (this.#behaviour.kind === 'checkpoint-failing') {
      this.#failedCheckpoints += 1;
    } else {
      this.#completedCheckpoints += 1;
      this.#lastCompletedCheckpointMs = atMs;
    }
    this.#nextCheckpointMs = atMs + (this.#checkpointIntervalMs ?? Number.POSITIVE_INFINITY);
  }

  #fail(atMs: number, error: string): void {
    if (atMs - this.#sinceMs >= BACKOFF_RESET_THRESHOLD_MS) this.#failureIndex = 0;
    this.#nextCheckpointMs = Number.POSITIVE_INFINITY;
    this.#running = false;
    this.#sinceMs = atMs;
    this.#restarts += 1;
    this.#failedCheckpoints += 1;
    this.#lastFailureMs = atMs;
    this.#lastError = error;
    this.#restartAtMs = atMs + restartDelayMs(this.#strategy, this.#failureIndex);
    this.#failureIndex += 1;
    this.#onFailure?.(atMs, error);
  }

  #restart(atMs: number): void {
    this.#running = true;
    this.#sinceMs = atMs;
    this.#restartAtMs = Number.POSITIVE_INFINITY;
    this.#scheduleCheckpoint(atMs);
  }
}

import { z } from 'zod';

/**
 * The watchdog configuration: what is watched, and the policy per application.
 * One JSON file (see `flink-watchdog.config.json` in the README); validated here, before anything acts on it.
 * Units are in the key names (`...Minutes`, `...Seconds`).
 */

/** Transient ApplicationStatus values a stuck-transition limit can be set for. */
export const TRANSIENT_STATUSES = [
  'STARTING',
  'UPDATING',
  'STOPPING',
  'FORCE_STOPPING',
  'ROLLING_BACK',
  'AUTOSCALING',
] as const;

/** What to do for a restart loop that began shortly after a version change. */
export const RestartLoopAfterChangeAction = z.enum(['ROLLBACK', 'FORCE_STOP_AND_RESTART', 'NOTIFY']);
/** What to do for a restart loop with no recent change, or a stuck transition. */
export const RestartAction = z.enum(['FORCE_STOP_AND_RESTART', 'NOTIFY']);

/** Which snapshot a restart restores from. `last-known-good` falls back to `latest` when none qualifies. */
export const RestoreFrom = z.enum(['last-known-good', 'latest']);

const stuckTransitionMinutesShape = z
  .object(
    Object.fromEntries(
      TRANSIENT_STATUSES.map((s) => [
        s,
        z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .optional(),
      ]),
    ) as Record<(typeof TRANSIENT_STATUSES)[number], z.ZodOptional<z.ZodNumber>>,
  )
  .strict();

/** Policy fields without defaults: the shape of a per-application override. */
const policyFields = {
  /** `remediate` acts; `observe` only reports what it would have done. */
  mode: z.enum(['remediate', 'observe']),
  /** Desired ApplicationStatus. Only RUNNING applications are restarted or started. */
  desiredStatus: z.enum(['RUNNING', 'READY']),
  /** Look-back window for counting restarts (minutes) and restarts within it that make a restart loop (count). */
  restartLoop: z
    .object({
      windowMinutes: z.number().int().min(2).max(180).optional(),
      threshold: z.number().int().min(1).max(1000).optional(),
    })
    .strict(),
  /** A version change this recent before the loop began makes rollback the remedy, minutes. */
  recentChangeMinutes: z
    .number()
    .int()
    .min(0)
    .max(24 * 60),
  onRestartLoopAfterChange: RestartLoopAfterChangeAction,
  onRestartLoop: RestartAction,
  onStuckTransition: RestartAction,
  restoreFrom: RestoreFrom,
  /** On READY after a failed deploy: re-apply the previous version's configuration and start from its snapshot. */
  restoreLastGoodVersion: z.boolean(),
  /** On a restore that fails because state cannot be mapped: start again with AllowNonRestoredState=true. */
  allowNonRestoredState: z.boolean(),
  /** Time an application may stay in a transient status before it counts as stuck, minutes per status. */
  stuckTransitionMinutes: stuckTransitionMinutesShape,
  /** Healthy window after a remediation before it counts as recovered (no new restarts), minutes. */
  verifyMinutes: z.number().int().min(1).max(120),
  /** Minimum time between two remediation attempts on one application, minutes. */
  cooldownMinutes: z
    .number()
    .int()
    .min(0)
    .max(24 * 60),
  /** Remediation attempts per application within `attemptWindowMinutes` before escalating, count. */
  maxAttempts: z.number().int().min(1).max(20),
  attemptWindowMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60),
  /** Interval between DescribeApplication polls while MSF transitions, seconds. */
  pollIntervalSeconds: z.number().int().min(5).max(600),
  /** Time a transition the watchdog started may take before it escalates, minutes. */
  transitionTimeoutMinutes: z.number().int().min(1).max(240),
};

/** The defaults of every policy knob (DESIGN.md, "Default policy"). */
export const DEFAULT_POLICY = {
  mode: 'observe',
  desiredStatus: 'RUNNING',
  restartLoop: { windowMinutes: 10, threshold: 3 },
  recentChangeMinutes: 30,
  onRestartLoopAfterChange: 'ROLLBACK',
  onRestartLoop: 'FORCE_STOP_AND_RESTART',
  onStuckTransition: 'FORCE_STOP_AND_RESTART',
  restoreFrom: 'last-known-good',
  restoreLastGoodVersion: false,
  allowNonRestoredState: false,
  stuckTransitionMinutes: {},
  verifyMinutes: 5,
  cooldownMinutes: 5,
  maxAttempts: 3,
  attemptWindowMinutes: 60,
  pollIntervalSeconds: 15,
  transitionTimeoutMinutes: 15,
} as const;

/** A (partial) policy as written in the config file: any subset of the knobs. */
export const PolicyOverride = z.object(policyFields).partial().strict();
export type PolicyOverride = z.infer<typeof PolicyOverride>;

/** The effective policy of one application: every knob set. */
export interface PolicySettings {
  mode: 'remediate' | 'observe';
  desiredStatus: 'RUNNING' | 'READY';
  restartLoop: { windowMinutes: number; threshold: number };
  recentChangeMinutes: number;
  onRestartLoopAfterChange: z.infer<typeof RestartLoopAfterChangeAction>;
  onRestartLoop: z.infer<typeof RestartAction>;
  onStuckTransition: z.infer<typeof RestartAction>;
  restoreFrom: z.infer<typeof RestoreFrom>;
  restoreLastGoodVersion: boolean;
  allowNonRestoredState: boolean;
  stuckTransitionMinutes: Partial<Record<(typeof TRANSIENT_STATUSES)[number], number>>;
  verifyMinutes: number;
  cooldownMinutes: number;
  maxAttempts: number;
  attemptWindowMinutes: number;
  pollIntervalSeconds: number;
  transitionTimeoutMinutes: number;
}

/** Merges overrides, later ones winning, onto {@link DEFAULT_POLICY}. */
export function mergePolicy(...overrides: PolicyOverride[]): PolicySettings {
  let out: PolicySettings = {
    ...DEFAULT_POLICY,
    restartLoop: { ...DEFAULT_POLICY.restartLoop },
    stuckTransitionMinutes: {},
  };
  for (const o of overrides) {
    const defined = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    out = {
      ...out,
      ...defined,
      restartLoop: { ...out.restartLoop, ...stripUndefined(o.restartLoop ?? {}) },
      stuckTransitionMinutes: { ...out.stuckTransitionMinutes, ...stripUndefined(o.stuckTransitionMinutes ?? {}) },
    };
  }
  return out;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Default stuck limits per transient status, minutes. */
export const DEFAULT_STUCK_MINUTES: Record<(typeof TRANSIENT_STATUSES)[number], number> = {
  STARTING: 20,
  UPDATING: 20,
  STOPPING: 15,
  FORCE_STOPPING: 10,
  ROLLING_BACK: 20,
  AUTOSCALING: 30,
};

/** Stuck limit for `status` under `settings`, minutes; undefined for steady statuses. */
export function stuckLimitMinutes(settings: PolicySettings, status: string): number | undefined {
  if (!(TRANSIENT_STATUSES as readonly string[]).includes(status)) return undefined;
  const key = status as (typeof TRANSIENT_STATUSES)[number];
  return settings.stuckTransitionMinutes[key] ?? DEFAULT_STUCK_MINUTES[key];
}

/** One watched application, by its MSF ApplicationName. */
export const WatchedApplication = z
  .object({
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[a-zA-Z0-9_.-]+$/, 'MSF application names use [a-zA-Z0-9_.-]'),
    policy: PolicyOverride.default({}),
  })
  .strict();

export const WatchdogConfig = z
  .object({
    schemaVersion: z.literal(1),
    /** Applications carrying this tag (key and value) are watched too, with the default policy. */
    optInTag: z
      .object({ key: z.string().min(1), value: z.string().min(1) })
      .strict()
      .optional(),
    /** Policy for every application; per-application `policy` overrides fields of it. */
    defaults: PolicyOverride.default({}),
    applications: z.array(WatchedApplication).default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.applications.forEach((app, i) => {
      if (seen.has(app.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['applications', i, 'name'],
          message: `duplicate application "${app.name}": list each application once`,
        });
      }
      seen.add(app.name);
    });
  });
export type WatchdogConfig = z.infer<typeof WatchdogConfig>;

/** Raised for a configuration that does not validate; `message` names each bad field and how to fix it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Validates a raw configuration object.
 * @param source where it came from (file path, environment variable), used in the error message.
 * @throws ConfigError listing every invalid field as `path: problem`.
 */
export function parseConfig(raw: unknown, source = 'config'): WatchdogConfig {
  const parsed = WatchdogConfig.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new ConfigError(`invalid watchdog configuration in ${source}: ${issues.join('; ')}`, issues);
}

/** The effective policy for one application: defaults, then the config's `defaults`, then its own `policy`. */
export function policyFor(config: WatchdogConfig, applicationName: string): PolicySettings {
  const app = config.applications.find((a) => a.name === applicationName);
  return mergePolicy(config.defaults, app?.policy ?? {});
}

/** Whether the application is listed by name (tag opt-in is checked by the caller, it needs an API call). */
export function isListed(config: WatchdogConfig, applicationName: string): boolean {
  return config.applications.some((a) => a.name === applicationName);
}

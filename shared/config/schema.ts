import { applicationKey } from '#shared/domain/app-key.ts';
import * as z from '#shared/zod.ts';

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

/** An integer from `min` to `max` inclusive (a JSON number: a string or a fraction is refused). */
function integer(min: number, max: number): z.ZodMiniNumber<number> {
  return z.number().check(z.int(), z.minimum(min), z.maximum(max));
}

/** An optional integer from `min` to `max` inclusive, with the description editors show. */
function optionalInteger(min: number, max: number, description?: string): z.ZodMiniOptional<z.ZodMiniNumber<number>> {
  const schema = z.optional(integer(min, max));
  return description === undefined ? schema : schema.register(z.globalRegistry, { description: description });
}

const stuckTransitionMinutesShape = z.strictObject(
  Object.fromEntries(
    TRANSIENT_STATUSES.map((s) => [
      s,
      optionalInteger(1, 24 * 60).register(z.globalRegistry, {
        description: `Minutes an application may stay ${s} (an MSF ApplicationStatus) before it counts as a stuck transition.`,
      }),
    ]),
  ) as Record<(typeof TRANSIENT_STATUSES)[number], z.ZodMiniOptional<z.ZodMiniNumber<number>>>,
);

/** Policy fields without defaults: the shape of a per-application override. */
const policyFields = {
  /**
   * `remediate` acts; `approve` records the decision and asks people (Slack buttons, Amazon Q Developer, `flink-watchdog
   * approve`), acting only once approved; `observe` only reports what it would have done.
   */
  mode: z.enum(['remediate', 'approve', 'observe']).register(z.globalRegistry, {
    description:
      '`remediate` acts; `approve` asks people first (Slack buttons, Amazon Q Developer custom action, `flink-watchdog approve INCIDENT`) and acts only once approved, after checking every guard again; `observe` only reports what it would have done.',
  }),
  /** approve mode: how long the workflow waits for an answer (Step Functions task token), minutes. */
  approvalTimeoutMinutes: integer(1, 8 * 60).register(z.globalRegistry, {
    description:
      'approve mode: how long the workflow waits for an approval before `onApprovalTimeout` applies, minutes (default 30).',
  }),
  /** approve mode: what an unanswered request ends in: `escalate` (ESCALATED, no MSF call) or `proceed` (act). */
  onApprovalTimeout: z.enum(['escalate', 'proceed']).register(z.globalRegistry, {
    description:
      'approve mode: what an unanswered approval request ends in: `escalate` (the default: ESCALATED, no MSF call) or `proceed` (act as if approved, every guard checked again first).',
  }),
  /** Desired ApplicationStatus. Only RUNNING applications are restarted or started. */
  desiredStatus: z.enum(['RUNNING', 'READY']).register(z.globalRegistry, {
    description: 'Desired ApplicationStatus. Only RUNNING applications are restarted or started.',
  }),
  /** Look-back window for counting restarts (minutes) and restarts within it that make a restart loop (count). */
  restartLoop: z
    .strictObject({
      windowMinutes: optionalInteger(2, 180, 'Look-back window for counting restarts, minutes.'),
      threshold: optionalInteger(1, 1000, 'Restarts within the window that make a restart loop, count.'),
    })
    .register(z.globalRegistry, { description: 'What counts as a restart loop.' }),
  /** A version change this recent before the loop began makes rollback the remedy, minutes. */
  recentChangeMinutes: integer(0, 24 * 60).register(z.globalRegistry, {
    description: 'A version change this recent before the loop began makes rollback the remedy, minutes.',
  }),
  onRestartLoopAfterChange: RestartLoopAfterChangeAction.check(
    z.describe('What to do for a restart loop that began shortly after a version change.'),
  ),
  onRestartLoop: RestartAction.check(z.describe('What to do for a restart loop with no recent change.')),
  onStuckTransition: RestartAction.check(z.describe('What to do when a transient status outlasts its limit.')),
  /** What to do when checkpoints stall (CHECKPOINT_STALL): `NOTIFY`, or force-stop and restart from a snapshot. */
  onCheckpointStall: RestartAction.check(
    z.describe(
      'What to do when checkpoints stall: NOTIFY (default), or FORCE_STOP_AND_RESTART from the last-known-good snapshot.',
    ),
  ),
  /**
   * The job's checkpoint settings the watchdog cannot read from MSF (they live in the application code or its Flink
   * configuration), from which the stall window is derived as the Flink Kubernetes Operator derives it:
   * max(CheckpointInterval, checkpoint timeout) × (tolerable failed checkpoints + 2).
   */
  checkpointStall: z
    .strictObject({
      checkpointTimeoutSeconds: optionalInteger(
        1,
        24 * 60 * 60,
        "The job's checkpoint timeout (Flink execution.checkpointing.timeout), seconds. Default 600 (Flink's).",
      ),
      tolerableFailedCheckpoints: optionalInteger(
        0,
        1000,
        "The job's tolerable consecutive checkpoint failures (Flink execution.checkpointing.tolerable-failed-checkpoints), count. Default 0 (Flink's).",
      ),
      failedCheckpointsThreshold: optionalInteger(
        1,
        1000,
        'Failed checkpoints within the window, beyond those a restart explains, that make a stall, count. Default: tolerableFailedCheckpoints + 2.',
      ),
    })
    .register(z.globalRegistry, {
      description: 'Checkpoint settings of the job, from which the checkpoint-stall window is derived.',
    }),
  restoreFrom: RestoreFrom.check(
    z.describe('Which snapshot a restart restores from; `last-known-good` falls back to `latest` when none qualifies.'),
  ),
  /** On READY after a failed deploy: re-apply the previous version's configuration and start from its snapshot. */
  restoreLastGoodVersion: z.boolean().register(z.globalRegistry, {
    description:
      "On READY after a failed deploy: re-apply the previous version's configuration and start from its snapshot.",
  }),
  /** On a restore that fails because state cannot be mapped: start again with AllowNonRestoredState=true. */
  allowNonRestoredState: z.boolean().register(z.globalRegistry, {
    description: 'On a restore that fails because state cannot be mapped: start again with AllowNonRestoredState=true.',
  }),
  /** Time an application may stay in a transient status before it counts as stuck, minutes per status. */
  stuckTransitionMinutes: stuckTransitionMinutesShape.register(z.globalRegistry, {
    description: 'Time an application may stay in a transient status before it counts as stuck, minutes per status.',
  }),
  /** Healthy window after a remediation before it counts as recovered (no new restarts), minutes. */
  verifyMinutes: integer(1, 120).register(z.globalRegistry, {
    description: 'Healthy window after a remediation before it counts as recovered (no new restarts), minutes.',
  }),
  /** Minimum time between two remediation attempts on one application, minutes. */
  cooldownMinutes: integer(0, 24 * 60).register(z.globalRegistry, {
    description: 'Minimum time between two remediation attempts on one application, minutes.',
  }),
  /** Remediation attempts per application within `attemptWindowMinutes` before escalating, count. */
  maxAttempts: integer(1, 20).register(z.globalRegistry, {
    description: 'Remediation attempts per application within `attemptWindowMinutes` before escalating, count.',
  }),
  /** Window `maxAttempts` is counted in, minutes. */
  attemptWindowMinutes: integer(1, 7 * 24 * 60).register(z.globalRegistry, {
    description: 'Window `maxAttempts` is counted in, minutes.',
  }),
  /** Interval between DescribeApplication polls while MSF transitions, seconds. */
  pollIntervalSeconds: integer(5, 600).register(z.globalRegistry, {
    description: 'Interval between DescribeApplication polls while MSF transitions, seconds.',
  }),
  /** Time a transition the watchdog started may take before it escalates, minutes. */
  transitionTimeoutMinutes: integer(1, 240).register(z.globalRegistry, {
    description: 'Time a transition the watchdog started may take before it escalates, minutes.',
  }),
  /** What to do per kind of drift between the declared state (config, Terraform state, tags) and what MSF runs. */
  onDrift: z
    .strictObject({
      status: z.optional(z.enum(['reconcile', 'notify', 'ignore'])).register(z.globalRegistry, {
        description:
          'Status drift. `reconcile`: desired RUNNING, found READY with no failed operation → start from the latest snapshot.',
      }),
      version: z.optional(z.enum(['notify', 'ignore'])).register(z.globalRegistry, {
        description:
          'Application version or code drift (e.g. after a rollback). Never reconciled: MSF rolled back for a reason.',
      }),
      configuration: z
        .optional(z.enum(['notify', 'ignore']))
        .register(z.globalRegistry, { description: 'Configuration drift (parallelism, properties, …).' }),
      informational: z
        .optional(z.enum(['notify', 'ignore']))
        .register(z.globalRegistry, { description: 'Informational drift (log and metrics level).' }),
    })
    .register(z.globalRegistry, {
      description: 'What to do per kind of drift: reconcile (status only), notify, or ignore.',
    }),
};

/** The defaults of every policy knob (README, "Configuration"). */
export const DEFAULT_POLICY = {
  mode: 'observe',
  approvalTimeoutMinutes: 30,
  onApprovalTimeout: 'escalate',
  desiredStatus: 'RUNNING',
  restartLoop: { windowMinutes: 10, threshold: 3 },
  recentChangeMinutes: 30,
  onRestartLoopAfterChange: 'ROLLBACK',
  onRestartLoop: 'FORCE_STOP_AND_RESTART',
  onStuckTransition: 'FORCE_STOP_AND_RESTART',
  onCheckpointStall: 'NOTIFY',
  checkpointStall: { checkpointTimeoutSeconds: 600, tolerableFailedCheckpoints: 0 },
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
  onDrift: { status: 'notify', version: 'notify', configuration: 'notify', informational: 'ignore' },
} as const;

/** A (partial) policy as written in the config file: any subset of the knobs. */
export const PolicyOverride = z
  .partial(z.strictObject(policyFields))
  // `id`: the generated JSON Schema defines it once under `$defs` and refers to it from `defaults` and each `policy`.
  .check(
    z.meta({
      id: 'PolicyOverride',
      description: 'Any subset of the policy knobs; unset knobs keep the inherited value.',
    }),
  );
export type PolicyOverride = z.infer<typeof PolicyOverride>;

/** The effective policy of one application: every knob set. */
export interface PolicySettings {
  mode: 'remediate' | 'approve' | 'observe';
  /** approve mode: how long the workflow waits for an answer, minutes. */
  approvalTimeoutMinutes: number;
  /** approve mode: what an unanswered request ends in. */
  onApprovalTimeout: 'escalate' | 'proceed';
  desiredStatus: 'RUNNING' | 'READY';
  restartLoop: { windowMinutes: number; threshold: number };
  recentChangeMinutes: number;
  onRestartLoopAfterChange: z.infer<typeof RestartLoopAfterChangeAction>;
  onRestartLoop: z.infer<typeof RestartAction>;
  onStuckTransition: z.infer<typeof RestartAction>;
  onCheckpointStall: z.infer<typeof RestartAction>;
  /** Timeout (s) and tolerable failures (count) of the job's checkpoints; threshold unset = tolerable + 2. */
  checkpointStall: {
    checkpointTimeoutSeconds: number;
    tolerableFailedCheckpoints: number;
    failedCheckpointsThreshold?: number;
  };
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
  onDrift: {
    status: 'reconcile' | 'notify' | 'ignore';
    version: 'notify' | 'ignore';
    configuration: 'notify' | 'ignore';
    informational: 'notify' | 'ignore';
  };
}

/** Merges overrides, later ones winning, onto {@link DEFAULT_POLICY}. */
export function mergePolicy(...overrides: PolicyOverride[]): PolicySettings {
  let out: PolicySettings = {
    ...DEFAULT_POLICY,
    restartLoop: { ...DEFAULT_POLICY.restartLoop },
    checkpointStall: { ...DEFAULT_POLICY.checkpointStall },
    stuckTransitionMinutes: {},
    onDrift: { ...DEFAULT_POLICY.onDrift },
  };
  for (const o of overrides) {
    const defined = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    out = {
      ...out,
      ...defined,
      restartLoop: { ...out.restartLoop, ...stripUndefined(o.restartLoop ?? {}) },
      checkpointStall: { ...out.checkpointStall, ...stripUndefined(o.checkpointStall ?? {}) },
      stuckTransitionMinutes: { ...out.stuckTransitionMinutes, ...stripUndefined(o.stuckTransitionMinutes ?? {}) },
      onDrift: { ...out.onDrift, ...stripUndefined(o.onDrift ?? {}) },
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

/** MSF RuntimeEnvironment assumed for an application whose config does not name one. */
export const DEFAULT_RUNTIME_ENVIRONMENT = 'FLINK-1_20';

/** An MSF Flink RuntimeEnvironment, e.g. `FLINK-1_20` or `FLINK-2_2`. */
export const RuntimeEnvironment = z
  .string()
  .check(z.regex(/^FLINK-\d+_\d+$/, 'expected an MSF Flink RuntimeEnvironment such as FLINK-1_20 or FLINK-2_2'));

/** A 12-digit AWS account id. */
export const AccountId = z.string().check(z.regex(/^\d{12}$/, 'a 12-digit AWS account id'));
/** An AWS Region name, e.g. `eu-west-1`. */
export const AwsRegion = z
  .string()
  .check(z.regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, 'an AWS Region name such as eu-west-1'));

/** One watched application, by its MSF ApplicationName (and its account and Region when they are not the watchdog's). */
export const WatchedApplication = z
  .strictObject({
    name: z
      .string()
      .check(
        z.minLength(1),
        z.maxLength(128),
        z.regex(/^[a-zA-Z0-9_.-]+$/, 'MSF application names use [a-zA-Z0-9_.-]'),
        z.describe('The MSF ApplicationName.'),
      ),
    /**
     * The application's MSF RuntimeEnvironment (default `FLINK-1_20`). It chooses the restart metric (`fullRestarts`,
     * or `numRestarts` on FLINK-2_x, where `fullRestarts` was removed).
     */
    runtimeEnvironment: z.optional(RuntimeEnvironment).register(z.globalRegistry, {
      description:
        'MSF RuntimeEnvironment, e.g. FLINK-1_20 (the default) or FLINK-2_2. Chooses the restart metric (fullRestarts, ' +
        'or numRestarts on FLINK-2_x).',
    }),
    accountId: z.optional(AccountId).register(z.globalRegistry, {
      description:
        "The application's AWS account when it is not the watchdog's own (a member account listed in fleet.accounts).",
    }),
    region: z.optional(AwsRegion).register(z.globalRegistry, {
      description: "The application's Region when it is not the watchdog's own; required with accountId.",
    }),
    /**
     * The CloudWatch Logs log group the application logs to (its CloudWatchLoggingOptions), read for a restart loop's
     * root cause; the watchdog's IAM allows reading this log group only. Default `/aws/kinesis-analytics/NAME`.
     */
    logGroupName: z
      .optional(z.string().check(z.regex(/^[.\-_/#A-Za-z0-9]{1,512}$/, 'a CloudWatch Logs log group name')))
      .register(z.globalRegistry, {
        description:
          "The CloudWatch Logs log group of the application's CloudWatchLoggingOptions, read (Logs Insights) for a restart loop's first exception; the watchdog may read only these log groups. Default /aws/kinesis-analytics/NAME.",
      }),
    policy: z
      ._default(PolicyOverride, {})
      .register(z.globalRegistry, { description: "Overrides of the config's `defaults` for this application." }),
  })
  .check(
    z.refine((a) => a.accountId === undefined || a.region !== undefined, {
      message: 'an application in another account names its region too (e.g. "region": "eu-west-1")',
      path: ['region'],
    }),
  );
export type WatchedApplication = z.infer<typeof WatchedApplication>;

/** Matches a Slack incoming-webhook URL (`https://hooks.slack.com/...`), with or without the scheme. */
const SLACK_WEBHOOK = /hooks\.slack(?:-gov)?\.com\//i;

/** The message for a Slack webhook URL found in the config: it is a credential and belongs in Secrets Manager. */
export const SLACK_WEBHOOK_IN_CONFIG_MESSAGE =
  'this is a Slack incoming-webhook URL, which is a credential: never put it in the config. Store it in a ' +
  'Secrets Manager secret and set notifications.slackWebhookSecretName to the name of that secret';

/** Whether `value` is, or contains anywhere inside, a string that looks like a Slack incoming-webhook URL. */
function containsSlackWebhook(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return SLACK_WEBHOOK.test(value);
  if (depth > 8 || typeof value !== 'object' || value === null) return false;
  return Object.values(value).some((v) => containsSlackWebhook(v, depth + 1));
}

/** A schema-level message that names the Slack-webhook problem first, else `message`. */
function unlessSlackWebhook(message: string): (issue: { input?: unknown }) => string {
  return (issue) => (containsSlackWebhook(issue.input) ? SLACK_WEBHOOK_IN_CONFIG_MESSAGE : message);
}

/**
 * Where notifications go. A Slack incoming-webhook URL anywhere in it (in a field, an unknown key, an array) is
 * rejected with a message saying to put it in Secrets Manager: it is a credential, and the config ends up in Lambda
 * environment variables and CloudFormation templates. `slackWebhookSecretName` names the secret instead.
 */
export const Notifications = z
  .strictObject({
    /**
     * ARN of an existing SNS topic to publish to, e.g. `arn:aws:sns:eu-west-1:123456789012:flink-alerts`.
     * When absent, the stack creates an encrypted topic.
     */
    snsTopicArn: z
      .optional(
        z.string().check(
          z.regex(/^arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:[A-Za-z0-9_-]{1,256}$/, {
            error: unlessSlackWebhook(
              'expected the ARN of a standard SNS topic, e.g. arn:aws:sns:eu-west-1:123456789012:flink-alerts',
            ),
          }),
        ),
      )
      .register(z.globalRegistry, {
        description:
          'ARN of an existing standard SNS topic to publish to; when absent, the stack creates an encrypted topic.',
      }),
    /**
     * Name of the Secrets Manager secret whose value is the Slack incoming-webhook URL, e.g.
     * `flink-watchdog/slack-webhook`. The URL itself never goes in the config. When absent, nothing is sent to Slack.
     */
    slackWebhookSecretName: z
      .optional(
        z.string().check(
          z.regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, {
            error: unlessSlackWebhook(
              'expected a Secrets Manager secret name (1-512 of A-Z a-z 0-9 / _ + = . @ -), e.g. flink-watchdog/slack-webhook',
            ),
          }),
          z.refine((s) => !SLACK_WEBHOOK.test(s), SLACK_WEBHOOK_IN_CONFIG_MESSAGE),
        ),
      )
      .register(z.globalRegistry, {
        description:
          'Name of the Secrets Manager secret holding the Slack credentials (never in the config itself): its ' +
          'SecretString is an incoming-webhook URL (or JSON {"url": ...}), or JSON {"token": BOT_TOKEN, "channel": ' +
          'CHANNEL_ID} for the Web API (threaded updates); when absent, nothing is sent to Slack.',
      }),
    /** Email addresses subscribed to the topic (each must confirm the subscription mail). */
    emailSubscriptions: z
      .optional(
        z
          .array(z.email({ error: unlessSlackWebhook('expected an email address, e.g. oncall@example.com') }))
          .check(z.maxLength(100)),
      )
      .register(z.globalRegistry, {
        description: 'Email addresses subscribed to the topic; each must confirm the subscription mail.',
      }),
    /**
     * Name of the Secrets Manager secret holding the Slack app's signing secret: creates the interactivity endpoint (a
     * Lambda function URL) that takes the Approve / Reject buttons of approve mode. Its SecretString is the signing
     * secret, or JSON {"signingSecret": ...}.
     */
    slackSigningSecretName: z
      .optional(
        z
          .string()
          .check(
            z.regex(
              /^[A-Za-z0-9/_+=.@-]{1,512}$/,
              'expected a Secrets Manager secret name (1-512 of A-Z a-z 0-9 / _ + = . @ -), e.g. flink-watchdog/slack-signing-secret',
            ),
          ),
      )
      .register(z.globalRegistry, {
        description:
          'Name of the Secrets Manager secret holding the Slack app\'s signing secret (SecretString: the secret, or JSON {"signingSecret": ...}): creates the interactivity endpoint (Lambda function URL) for approve mode\'s Approve / Reject buttons.',
      }),
    chatbot: z.optional(z.boolean()).register(z.globalRegistry, {
      description:
        'Create a topic for Amazon Q Developer in chat applications (custom-notification JSON, one thread per incident).',
    }),
  })
  .register(z.globalRegistry, {
    description: 'Where notifications go. Slack webhook URLs never go here: put them in Secrets Manager.',
  });
export type Notifications = z.infer<typeof Notifications>;

/**
 * The config file (`flink-watchdog.config.json`). Validate with {@link parseConfig}, whose errors name each field and
 * the fix; `npm run schema` turns this into the JSON Schema editors use.
 */
export const WatchdogConfig = z
  .strictObject({
    /** Editor hint (`./shared/config/flink-watchdog.config.schema.json`); accepted and ignored. */
    $schema: z
      .optional(z.string())
      .register(z.globalRegistry, { description: 'JSON Schema reference for editors; ignored by the watchdog.' }),
    schemaVersion: z
      .literal(1)
      .register(z.globalRegistry, { description: 'Version of this file format; this release reads 1.' }),
    /** Applications carrying this tag (key and value) are watched too, with the default policy. */
    optInTag: z
      .optional(
        z.strictObject({
          key: z
            .string()
            .check(z.minLength(1))
            .register(z.globalRegistry, { description: 'The tag key, e.g. `flink-watchdog`.' }),
          value: z
            .string()
            .check(z.minLength(1))
            .register(z.globalRegistry, { description: 'The tag value that opts an application in, e.g. `watch`.' }),
        }),
      )
      .register(z.globalRegistry, {
        description: 'Applications carrying this tag (key and value) are watched too, with the default policy.',
      }),
    /** Policy for every application; per-application `policy` overrides fields of it. */
    defaults: z._default(PolicyOverride, {}).register(z.globalRegistry, {
      description: "Policy for every application; an application's own `policy` overrides fields of it.",
    }),
    applications: z
      ._default(z.array(WatchedApplication), [])
      .register(z.globalRegistry, { description: 'The applications watched by name.' }),
    /** Where notifications go (optional: without it, the stack creates an encrypted SNS topic and nothing else). */
    notifications: z.optional(Notifications),
    /**
     * Change freezes: while an AWS Systems Manager Change Calendar named here is CLOSED (GetCalendarState), the watchdog
     * makes no automatic MSF call; the incident says what holds it, people are told once, and a human runbook command
     * still runs.
     */
    changeFreeze: z
      .optional(
        z.strictObject({
          calendars: z
            .array(
              z
                .string()
                .check(
                  z.regex(
                    /^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:document\/)?[A-Za-z0-9_.-]{3,128}$/,
                    'an SSM Change Calendar document name or ARN, e.g. prod-change-freeze or arn:aws:ssm:eu-west-1:123456789012:document/prod-change-freeze',
                  ),
                ),
            )
            .check(z.minLength(1), z.maxLength(10))
            .register(z.globalRegistry, {
              description:
                'Change Calendar documents (names or ARNs, at most 10, as GetCalendarState takes them): while one is CLOSED, automatic remediation waits.',
            }),
          recheckMinutes: optionalInteger(
            1,
            60,
            'How often a held remediation looks again at the calendars and maintenance, minutes (default 5).',
          ),
          maxHoldMinutes: optionalInteger(
            5,
            11 * 60,
            'Longest a remediation waits for a freeze or maintenance to end before it is ESCALATED, minutes (default 240).',
          ),
        }),
      )
      .register(z.globalRegistry, {
        description:
          'Change freezes: no automatic MSF call while an SSM Change Calendar named here is CLOSED (maintenance operations in progress hold it too).',
      }),
    /**
     * Runbook commands over SNS (force-stop, restart-from-snapshot, rollback, …). Without it, no command topic exists.
     */
    runbooks: z
      .optional(
        z.strictObject({
          /**
           * IAM roles or users allowed to publish runbook commands. Each must exist when the stack is deployed: the
           * command topic's policy and its key's policy name them, and SNS and KMS refuse a policy naming a principal
           * that does not exist (the deploy fails). IAM keeps the principal's unique id in those policies, so a role
           * deleted and created again under the same name is not allowed until the stack is deployed again.
           */
          publishers: z
            .array(
              z
                .string()
                .check(
                  z.regex(
                    /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/\S+$/,
                    'an IAM role or user ARN that exists when the stack is deployed (arn:aws:iam::ACCOUNT:role/NAME); for an assumed role, name the role, not the session',
                  ),
                ),
            )
            .check(
              z.minLength(1),
              z.maxLength(50),
              z.describe(
                'IAM principals (role or user ARNs) allowed to publish commands; the topic policy denies everyone else. Each must exist when the stack is deployed (SNS and KMS refuse a policy naming a missing principal); one deleted and created again needs a new deploy.',
              ),
            ),
        }),
      )
      .register(z.globalRegistry, { description: 'Runbook commands over SNS. Without it, no command topic exists.' }),
    /** Desired-state sources for drift detection besides this config. */
    drift: z
      .optional(
        z.strictObject({
          terraformState: z
            .optional(
              z
                .array(
                  z.string().check(
                    z.minLength(1),
                    z.refine((v) => !/^s3:\/\//.test(v) || /^s3:\/\/[a-z0-9.-]{3,63}\/.+/.test(v), {
                      message: 'an S3 location looks like s3://BUCKET/KEY',
                    }),
                  ),
                )
                .check(z.maxLength(20)),
            )
            .register(z.globalRegistry, {
              description:
                'Terraform state files (format version 4): local paths or s3://BUCKET/KEY of the S3 backend object.',
            }),
        }),
      )
      .register(z.globalRegistry, { description: 'Desired-state sources for drift detection besides this config.' }),
    /** How quickly the watchdog looks again after a signal (watches); see {@link detectionSettings}. */
    detection: z
      .optional(
        z.strictObject({
          metricsDelaySeconds: optionalInteger(
            0,
            600,
            "Seconds after a 1-minute period ends before its MSF datapoint can be read from CloudWatch (default 60, a conservative assumption). A watch's checks are aligned to it.",
          ),
          watchMinutes: optionalInteger(
            1,
            120,
            'After an UpdateApplication or StartApplication, how long the application is checked every minute (restarts stay at zero, no failed checkpoint), minutes (default 10).',
          ),
        }),
      )
      .register(z.globalRegistry, {
        description: 'Timing of the watches that follow a restart, a transition or a change.',
      }),
    /** The fleet: blast radius of automatic remediation and how the sweep fans out; see {@link fleetSettings}. */
    fleet: z
      .optional(
        z.strictObject({
          maxConcurrentRemediations: optionalInteger(
            1,
            100,
            'At most this many automatic remediations run at once across every watched application (default 3). Runbook commands are not counted.',
          ),
          correlatedFailure: z
            .optional(
              z.strictObject({
                threshold: optionalInteger(
                  1,
                  1000,
                  'Applications entering a restart loop within the window above which it is one fleet incident (default 5).',
                ),
                fraction: z.optional(z.number().check(z.gt(0), z.maximum(1))).register(z.globalRegistry, {
                  description:
                    'The same threshold as a share of the watched applications (default 0.2); the smaller of the two applies.',
                }),
                windowMinutes: optionalInteger(
                  1,
                  120,
                  'Window in which loops count as correlated, minutes (default 10).',
                ),
                maxOpenMinutes: optionalInteger(
                  10,
                  1440,
                  'A fleet incident still open after this many minutes is closed as escalated: its held applications go back to normal handling and people are told what is still failing (default 120).',
                ),
              }),
            )
            .register(z.globalRegistry, {
              description:
                'When many applications enter a restart loop at once: one fleet incident, automatic restarts held.',
            }),
          alarms: z
            .optional(
              z.strictObject({
                downtime: z.optional(z.boolean()).register(z.globalRegistry, {
                  description:
                    'Also create the downtime alarm per application (downtime > 0, missing data breaching), $0.10 per application a month (default false: the sweep reads each status with ListApplications).',
                }),
              }),
            )
            .register(z.globalRegistry, {
              description:
                'Which per-application alarms the watchdog creates besides the restart and failed-checkpoint alarms.',
            }),
          accounts: z
            .optional(
              z
                .array(
                  z.strictObject({
                    accountId: AccountId.check(z.describe('The member account.')),
                    regions: z
                      .optional(z.array(AwsRegion).check(z.minLength(1), z.maxLength(20)))
                      .register(z.globalRegistry, {
                        description: "Regions watched in it (default: the watchdog's own).",
                      }),
                    roleName: z
                      .optional(z.string().check(z.regex(/^[\w+=,.@-]{1,64}$/, 'an IAM role name')))
                      .register(z.globalRegistry, {
                        description:
                          "The member stack's remediation role the watchdog assumes (default FlinkWatchdogMember).",
                      }),
                    externalId: z
                      .string()
                      .check(
                        z.regex(
                          /^[\w+=,.@:/-]{2,1224}$/,
                          'an STS ExternalId: 2-1224 characters of [A-Za-z0-9+=,.@:/-_]',
                        ),
                        z.describe(
                          'The ExternalId the member role requires (sts:ExternalId), the same in the member stack.',
                        ),
                      ),
                  }),
                )
                .check(z.maxLength(100)),
            )
            .register(z.globalRegistry, {
              description:
                'Member accounts (and Regions) the watchdog watches through the role their member stack creates.',
            }),
          sweep: z
            .optional(
              z.strictObject({
                batchSize: optionalInteger(
                  1,
                  100,
                  'Applications looked at closely per detector invocation of the sweep (default 20).',
                ),
                maxConcurrency: optionalInteger(
                  1,
                  100,
                  'Detector invocations of one sweep running at once (default 10).',
                ),
                closeLookMinutes: optionalInteger(
                  5,
                  1440,
                  'Every watched application gets a close look (its metrics read, as an alarm would) at least this often, even when nothing is off: the sweep rotates through the others, oldest look first, minutes (default 60).',
                ),
              }),
            )
            .register(z.globalRegistry, { description: 'How the sweep fans out (Step Functions Distributed Map).' }),
        }),
      )
      .register(z.globalRegistry, {
        description: 'The fleet: blast radius of automatic remediation and how the sweep fans out.',
      }),
  })
  .check(
    z.superRefine(
      (cfg, ctx) => {
        // Runs even when other fields are invalid (`when`), so it must not trust the shape of `cfg`.
        const apps: unknown = typeof cfg === 'object' && cfg !== null ? cfg.applications : undefined;
        if (!Array.isArray(apps)) return;
        const firstIndex = new Map<string, number>();
        apps.forEach((app: unknown, i) => {
          const a = typeof app === 'object' && app !== null ? (app as Record<string, unknown>) : {};
          if (typeof a.name !== 'string') return;
          // Same name in another account or Region is another application: compare keys.
          const name = applicationKey({
            name: a.name,
            ...(typeof a.accountId === 'string' ? { accountId: a.accountId } : {}),
            ...(typeof a.region === 'string' ? { region: a.region } : {}),
          });
          const first = firstIndex.get(name);
          if (first === undefined) {
            firstIndex.set(name, i);
            return;
          }
          ctx.addIssue({
            code: 'custom',
            path: ['applications', i, 'name'],
            message: `duplicate application "${name}" (also applications[${first}]): list each application once and merge their policies`,
          });
        });
      },
      { when: () => true },
    ),
    z.describe(
      'Flink Watchdog configuration: which Amazon Managed Service for Apache Flink applications are watched, and how.',
    ),
  );
/** A validated configuration (the editor-only `$schema` key removed). */
export type WatchdogConfig = Omit<z.infer<typeof WatchdogConfig>, '$schema'>;

/** Raised for a configuration that does not validate; `message` names each bad field and how to fix it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /**
   * @param issues one entry per problem, `path: problem`, the path written like a JavaScript accessor
   *   (`applications[0].policy.restartLoop.threshold`).
   */
  constructor(
    message: string,
    readonly issues: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `['applications', 0, 'policy']` → `applications[0].policy`; the root is `(root)`. */
export function formatConfigPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out || '(root)';
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}

function quoteList(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

/**
 * Parse-time messages that say what is wrong and what would be right. Schema-level messages (patterns, the Slack
 * check) win over these.
 */
export function configErrorMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const path = issue.path ?? [];
  if (path[0] === 'notifications' && issue.code !== 'unrecognized_keys' && containsSlackWebhook(issue.input)) {
    return SLACK_WEBHOOK_IN_CONFIG_MESSAGE;
  }
  switch (issue.code) {
    case 'invalid_value': {
      const allowed = issue.values.length === 1 ? quoteList(issue.values) : `one of ${quoteList(issue.values)}`;
      if (issue.input === undefined) return `required: must be ${allowed}`;
      return `must be ${allowed} (got ${describeValue(issue.input)})`;
    }
    case 'invalid_type':
      if (issue.input === undefined) return `required: expected ${article(issue.expected)}`;
      return `expected ${article(issue.expected)}, got ${describeValue(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'number' || issue.origin === 'int') {
        return `must be ${issue.inclusive ? 'at least' : 'greater than'} ${issue.minimum} (got ${describeValue(issue.input)})`;
      }
      return issue.minimum === 1 ? 'must not be empty' : `must have at least ${issue.minimum} ${unit(issue.origin)}`;
    case 'too_big':
      if (issue.origin === 'number' || issue.origin === 'int') {
        return `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum} (got ${describeValue(issue.input)})`;
      }
      return `must have at most ${issue.maximum} ${unit(issue.origin)}`;
    default:
      return undefined;
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function unit(origin: string): string {
  if (origin === 'string') return 'characters';
  if (origin === 'array' || origin === 'set') return 'items';
  return 'entries';
}

/**
 * The allowed key an unknown key was probably meant as: the same ignoring case, `-` and `_`, else the only one within
 * two edits of it (a typo, a plural).
 */
export function didYouMean(key: string, allowed: readonly string[]): string | undefined {
  const norm = (k: string) => k.toLowerCase().replace(/[-_]/g, '');
  const exact = allowed.find((a) => norm(a) === norm(key));
  if (exact !== undefined) return exact;
  const near = allowed.filter((a) => editDistance(norm(a), norm(key)) <= 2);
  return near.length === 1 ? near[0] : undefined;
}

/** Levenshtein distance between `a` and `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * Validates a raw configuration object (as read from JSON). A top-level `$schema` key is accepted and dropped.
 * @param source where it came from (file path, environment variable), used in the error message.
 * @throws ConfigError listing every invalid field as `path: problem`, e.g.
 *   `applications[0].policy.restartLoop.threshold: must be at least 1 (got -1)` or
 *   `applications[0].policy.restartloop: unknown key (did you mean "restartLoop"?); allowed keys: mode, ...`.
 */
export function parseConfig(raw: unknown, source = 'config'): WatchdogConfig {
  // Allowed keys of each strict object that saw unknown keys, by formatted path (the issue itself does not carry them).
  const allowedKeys = new Map<string, readonly string[]>();
  const parsed = WatchdogConfig.safeParse(raw, {
    reportInput: true,
    error: (issue) => {
      if (issue.code === 'unrecognized_keys' && issue.inst instanceof z.ZodMiniObject) {
        allowedKeys.set(formatConfigPath(issue.path ?? []), Object.keys(issue.inst.shape));
      }
      return configErrorMessage(issue);
    },
  });
  if (parsed.success) {
    const { $schema: _editorHint, ...config } = parsed.data;
    return config;
  }
  const issues: string[] = [];
  for (const issue of parsed.error.issues) {
    if (issue.code !== 'unrecognized_keys') {
      issues.push(`${formatConfigPath(issue.path)}: ${issue.message}`);
      continue;
    }
    const allowed = allowedKeys.get(formatConfigPath(issue.path)) ?? [];
    const input = issue.input as Record<string, unknown> | undefined;
    for (const key of issue.keys) {
      const where = formatConfigPath([...issue.path, key]);
      if (containsSlackWebhook(input?.[key])) {
        issues.push(`${where}: ${SLACK_WEBHOOK_IN_CONFIG_MESSAGE}`);
        continue;
      }
      const meant = didYouMean(key, allowed);
      issues.push(
        `${where}: unknown key${meant !== undefined ? ` (did you mean "${meant}"?)` : ''}; allowed keys: ${allowed.join(', ')}`,
      );
    }
  }
  const unique = [...new Set(issues)];
  throw new ConfigError(`invalid watchdog configuration in ${source}: ${unique.join('; ')}`, unique);
}

/** The application key of a listed application (shared/domain/app-key.ts): its name, or `NAME@ACCOUNT.REGION`. */
export function listedKey(app: Pick<WatchedApplication, 'name' | 'accountId' | 'region'>): string {
  return applicationKey({
    name: app.name,
    ...(app.accountId ? { accountId: app.accountId } : {}),
    ...(app.region ? { region: app.region } : {}),
  });
}

/** The listed application with this key (its name in the watchdog's own account, else `NAME@ACCOUNT.REGION`). */
export function listedApplication(config: WatchdogConfig, key: string): WatchedApplication | undefined {
  return config.applications.find((a) => listedKey(a) === key);
}

/** The MSF RuntimeEnvironment of a listed application: its `runtimeEnvironment`, else {@link DEFAULT_RUNTIME_ENVIRONMENT}. */
export function runtimeEnvironmentOf(config: WatchdogConfig, applicationName: string): string {
  return listedApplication(config, applicationName)?.runtimeEnvironment ?? DEFAULT_RUNTIME_ENVIRONMENT;
}

/** The effective policy for one application: defaults, then the config's `defaults`, then its own `policy`. */
export function policyFor(config: WatchdogConfig, applicationName: string): PolicySettings {
  const app = listedApplication(config, applicationName);
  return mergePolicy(config.defaults, app?.policy ?? {});
}

/**
 * Default seconds between the end of a 1-minute period and the moment its MSF datapoint can be read with
 * GetMetricData. No AWS document states this latency for AWS/KinesisAnalytics; one minute is a conservative stated
 * assumption (AWS's sample "CloudWatch Alarm State Change" events show the newest evaluated datapoint up to a period
 * behind the query). Configurable per deployment: `detection.metricsDelaySeconds`.
 */
export const DEFAULT_METRICS_DELAY_SECONDS = 60;

/** Default length of a change watch after UpdateApplication or StartApplication, minutes. */
export const DEFAULT_WATCH_MINUTES = 10;

/** The effective `detection` settings: every field set. */
export interface DetectionSettings {
  /** Delay before a period's datapoint is readable, seconds. */
  metricsDelaySeconds: number;
  /** Length of a change watch, minutes. */
  watchMinutes: number;
}

/** The config's `detection` section with its defaults filled in. */
export function detectionSettings(config: WatchdogConfig): DetectionSettings {
  return {
    metricsDelaySeconds: config.detection?.metricsDelaySeconds ?? DEFAULT_METRICS_DELAY_SECONDS,
    watchMinutes: config.detection?.watchMinutes ?? DEFAULT_WATCH_MINUTES,
  };
}

/** Whether the application is listed by name (tag opt-in is checked by the caller, it needs an API call). */
export function isListed(config: WatchdogConfig, applicationName: string): boolean {
  return listedApplication(config, applicationName) !== undefined;
}

/** Default of `fleet.maxConcurrentRemediations`: automatic remediations running at once across the fleet, count. */
export const DEFAULT_MAX_CONCURRENT_REMEDIATIONS = 3;
/** Default of `fleet.correlatedFailure.threshold`, applications. */
export const DEFAULT_CORRELATED_FAILURE_THRESHOLD = 5;
/** Default of `fleet.correlatedFailure.fraction`, share of the watched applications. */
export const DEFAULT_CORRELATED_FAILURE_FRACTION = 0.2;
/** Default of `fleet.correlatedFailure.windowMinutes`, minutes. */
export const DEFAULT_CORRELATED_FAILURE_WINDOW_MINUTES = 10;
/** Default of `fleet.correlatedFailure.maxOpenMinutes`: longest a fleet incident holds restarts, minutes. */
export const DEFAULT_FLEET_INCIDENT_MAX_OPEN_MINUTES = 120;
/** Default of `fleet.sweep.batchSize`, applications per detector invocation. */
export const DEFAULT_SWEEP_BATCH_SIZE = 20;
/** Default of `fleet.sweep.maxConcurrency`, detector invocations at once. */
export const DEFAULT_SWEEP_MAX_CONCURRENCY = 10;
/**
 * Default of `fleet.sweep.closeLookMinutes`: every watched application gets a close look at least once an hour. Stated
 * assumption (no AWS figure): a silent job (alarms OK on missing data) or a checkpoint stall without a failed
 * checkpoint is found within the hour, at about 1/12 of the fleet's metrics read per 5-minute sweep.
 */
export const DEFAULT_SWEEP_CLOSE_LOOK_MINUTES = 60;

/** The effective `fleet` settings: every field set. */
export interface FleetSettings {
  /** Automatic remediations running at once across the fleet, at most (count). */
  maxConcurrentRemediations: number;
  correlatedFailure: {
    /** Applications entering a restart loop within the window, count. */
    threshold: number;
    /** The same as a share of the watched applications (0–1]. */
    fraction: number;
    /** Minutes. */
    windowMinutes: number;
    /** A fleet incident open longer is closed as escalated, minutes. */
    maxOpenMinutes: number;
  };
  sweep: {
    /** Applications per detector invocation of the sweep's look phase, count. */
    batchSize: number;
    /** Detector invocations of one sweep at once, count. */
    maxConcurrency: number;
    /** A close look at every watched application at least this often (the sweep's rotation), minutes. */
    closeLookMinutes: number;
  };
}

/** The config's `fleet` section with its defaults filled in. */
export function fleetSettings(config: WatchdogConfig): FleetSettings {
  const f = config.fleet;
  return {
    maxConcurrentRemediations: f?.maxConcurrentRemediations ?? DEFAULT_MAX_CONCURRENT_REMEDIATIONS,
    correlatedFailure: {
      threshold: f?.correlatedFailure?.threshold ?? DEFAULT_CORRELATED_FAILURE_THRESHOLD,
      fraction: f?.correlatedFailure?.fraction ?? DEFAULT_CORRELATED_FAILURE_FRACTION,
      windowMinutes: f?.correlatedFailure?.windowMinutes ?? DEFAULT_CORRELATED_FAILURE_WINDOW_MINUTES,
      maxOpenMinutes: f?.correlatedFailure?.maxOpenMinutes ?? DEFAULT_FLEET_INCIDENT_MAX_OPEN_MINUTES,
    },
    sweep: {
      batchSize: f?.sweep?.batchSize ?? DEFAULT_SWEEP_BATCH_SIZE,
      maxConcurrency: f?.sweep?.maxConcurrency ?? DEFAULT_SWEEP_MAX_CONCURRENCY,
      closeLookMinutes: f?.sweep?.closeLookMinutes ?? DEFAULT_SWEEP_CLOSE_LOOK_MINUTES,
    },
  };
}

/** The share-based limit is never below this: two applications looping at once in a small fleet can be chance. */
export const MIN_CORRELATED_FAILURE_LIMIT = 2;

/**
 * How many applications entering a restart loop within the window are too many to be independent: more than the
 * smaller of `threshold` and `fraction` × the watched applications (rounded up, at least
 * {@link MIN_CORRELATED_FAILURE_LIMIT}, unless `threshold` itself is lower).
 * @param watched the watched applications (listed and tagged), count.
 */
export function correlatedFailureLimit(settings: FleetSettings, watched: number): number {
  const byShare = Math.max(MIN_CORRELATED_FAILURE_LIMIT, Math.ceil(settings.correlatedFailure.fraction * watched));
  return Math.min(settings.correlatedFailure.threshold, byShare);
}

/** Effective change-freeze settings ({@link WatchdogConfig} `changeFreeze`), with defaults. */
export interface ChangeFreezeSettings {
  /** SSM Change Calendar names or ARNs (GetCalendarState `CalendarNames`); empty when none is configured. */
  calendars: string[];
  /** How often a held remediation looks again, minutes. */
  recheckMinutes: number;
  /** Longest a remediation is held before it is ESCALATED, minutes. */
  maxHoldMinutes: number;
}

/** The change-freeze settings of `config`: no calendar, re-check every 5 min, hold at most 240 min by default. */
export function changeFreezeSettings(config: WatchdogConfig): ChangeFreezeSettings {
  const c = config.changeFreeze;
  return {
    calendars: c?.calendars ?? [],
    recheckMinutes: c?.recheckMinutes ?? 5,
    maxHoldMinutes: c?.maxHoldMinutes ?? 240,
  };
}

/** Prefix of the log groups MSF's console creates (`/aws/kinesis-analytics/NAME`). */
export const DEFAULT_LOG_GROUP_PREFIX = '/aws/kinesis-analytics/';

/** The log group MSF's console creates for an application by default (CloudWatchLoggingOptions). */
export function defaultLogGroupName(applicationName: string): string {
  return `${DEFAULT_LOG_GROUP_PREFIX}${applicationName}`;
}

/**
 * The log group the watchdog may read for `applicationKey`'s root cause: the listed application's `logGroupName`, else
 * {@link defaultLogGroupName} of its MSF ApplicationName.
 */
export function configuredLogGroupName(config: WatchdogConfig, applicationKey: string): string {
  const listed = listedApplication(config, applicationKey);
  return listed?.logGroupName ?? defaultLogGroupName(listed?.name ?? applicationKey.split('@')[0] ?? applicationKey);
}

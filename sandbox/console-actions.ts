import {
  DescribeApplicationCommand,
  KinesisAnalyticsV2Client,
  UpdateApplicationCommand,
} from '@aws-sdk/client-kinesis-analytics-v2';
import { SNSClient } from '@aws-sdk/client-sns';
import { SnsCommandPublisher } from '#cli/remediate.ts';
import type { AnswerResult, ApprovalAnswer } from '#shared/domain/approval.ts';
import {
  APPLICATION_COMMANDS,
  APPROVAL_COMMANDS,
  type ApplicationCommand,
  type ApplicationCommandName,
  INCIDENT_ID_PATTERN,
  isApprovalCommandName,
  MAX_REASON_CHARS,
  RunbookCommand,
} from '#shared/events/runbook-command.ts';
import type { OutageWindow } from './emulator/job.ts';
import { Fault, type Scenario } from './scenario.ts';

/**
 * A bad configuration deploy the console can inject: the environment property a crash-loop rule of the scenario's job
 * model matches (`jobModel[].when.property`, on an application of the scenario or on any), on that application.
 */
export interface ConsoleInjection {
  /** ApplicationName the UpdateApplication targets. */
  readonly application: string;
  /** Property group id (PropertyGroupId). */
  readonly group: string;
  /** Property key and the value that makes the job crash-loop. */
  readonly key: string;
  readonly value: string;
  /** "FlinkApplicationProperties.input.stream.name = orders-v2 (crash-loop)": for the button's title. */
  readonly description: string;
}

/**
 * The failure the console can inject for `scenario`: the first crash-loop rule of its job model that matches on an
 * environment property only (and, if it names one, an application of the scenario), on its application or else the
 * scenario's first. undefined when there is none (the console then offers no injection: nothing else is honest).
 */
export function consoleInjection(scenario: Pick<Scenario, 'applications' | 'jobModel'>): ConsoleInjection | undefined {
  const names = scenario.applications.map((a) => a.name);
  for (const rule of scenario.jobModel) {
    const { property, application, codeKey, submittedBeforeMinute } = rule.when;
    if (rule.behaviour.kind !== 'crash-loop' || !property) continue;
    if (codeKey !== undefined || submittedBeforeMinute !== undefined) continue;
    const target = application ?? names[0];
    if (target === undefined || !names.includes(target)) continue;
    return {
      application: target,
      group: property.group,
      key: property.key,
      value: property.value,
      description: `${property.group}.${property.key} = ${property.value} (the job model crash-loops on it)`,
    };
  }
  return undefined;
}

/**
 * Deploys the injection as a person would with the AWS CLI, through the sandbox's endpoint: DescribeApplication (its
 * ConditionalToken and property groups), then UpdateApplication with the group's properties and `key` = `value`
 * (EnvironmentPropertyUpdates replaces whole groups, so the others are kept as they are).
 * @returns the application version the update asked for (ApplicationVersionId + 1)
 * @throws the MSF error (e.g. ResourceInUseException while the application is UPDATING; ConcurrentModificationException)
 */
export async function injectFailure(
  endpoint: string,
  region: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  injection: ConsoleInjection,
): Promise<number> {
  const msf = new KinesisAnalyticsV2Client({ endpoint, region, credentials, maxAttempts: 1 });
  try {
    const { ApplicationDetail: detail } = await msf.send(
      new DescribeApplicationCommand({ ApplicationName: injection.application }),
    );
    const groups =
      detail?.ApplicationConfigurationDescription?.EnvironmentPropertyDescriptions?.PropertyGroupDescriptions ?? [];
    const current = groups.find((g) => g.PropertyGroupId === injection.group)?.PropertyMap ?? {};
    await msf.send(
      new UpdateApplicationCommand({
        ApplicationName: injection.application,
        ConditionalToken: detail?.ConditionalToken,
        ApplicationConfigurationUpdate: {
          EnvironmentPropertyUpdates: {
            PropertyGroups: [
              ...groups
                .filter((g) => g.PropertyGroupId !== injection.group)
                .map((g) => ({ PropertyGroupId: g.PropertyGroupId, PropertyMap: g.PropertyMap ?? {} })),
              { PropertyGroupId: injection.group, PropertyMap: { ...current, [injection.key]: injection.value } },
            ],
          },
        },
      }),
    );
    return (detail?.ApplicationVersionId ?? 0) + 1;
  } finally {
    msf.destroy();
  }
}

/**
 * A stuck update the console can inject: a deploy of the code the scenario's job model says hangs (a `hangs` rule on
 * `when.codeKey`), so the application sits in UPDATING with its operation IN_PROGRESS, as the stuck-updating scenario's
 * routine deploy does.
 */
export interface ConsoleStuckUpdate {
  /** ApplicationName the UpdateApplication targets. */
  readonly application: string;
  /** The S3 object key (FileKeyUpdate) of the code that hangs. */
  readonly codeKey: string;
  /** Only updates sent before this virtual minute of the scenario hang (`when.submittedBeforeMinute`); absent: any. */
  readonly beforeMinute?: number;
  /** "code sessions/session-windows-1.8.0.jar (the job model hangs on it)": for the button's title. */
  readonly description: string;
}

/**
 * The stuck update the console can inject for `scenario`: the first `hangs` rule of its job model that matches on a
 * code key only (and, if it names one, an application of the scenario), on its application or else the scenario's
 * first. undefined when there is none: the emulator has no other way to make an update hang, so no control then.
 */
export function consoleStuckUpdate(
  scenario: Pick<Scenario, 'applications' | 'jobModel'>,
): ConsoleStuckUpdate | undefined {
  const names = scenario.applications.map((a) => a.name);
  for (const rule of scenario.jobModel) {
    const { property, application, codeKey, submittedBeforeMinute } = rule.when;
    if (rule.behaviour.kind !== 'hangs' || codeKey === undefined || property !== undefined) continue;
    const target = application ?? names[0];
    if (target === undefined || !names.includes(target)) continue;
    return {
      application: target,
      codeKey,
      ...(submittedBeforeMinute === undefined ? {} : { beforeMinute: submittedBeforeMinute }),
      description: `code ${codeKey} (the job model hangs on it${submittedBeforeMinute === undefined ? '' : ` before minute ${submittedBeforeMinute}`})`,
    };
  }
  return undefined;
}

/**
 * Deploys the stuck update as a person would with the AWS CLI, through the sandbox's endpoint: DescribeApplication
 * (its ConditionalToken), then UpdateApplication with
 * ApplicationCodeConfigurationUpdate.CodeContentUpdate.S3ContentLocationUpdate.FileKeyUpdate = `codeKey`.
 * @returns the application version the update asked for (ApplicationVersionId + 1)
 * @throws the MSF error (e.g. ResourceInUseException while the application is UPDATING)
 */
export async function injectStuckUpdate(
  endpoint: string,
  region: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  stuck: ConsoleStuckUpdate,
): Promise<number> {
  const msf = new KinesisAnalyticsV2Client({ endpoint, region, credentials, maxAttempts: 1 });
  try {
    const { ApplicationDetail: detail } = await msf.send(
      new DescribeApplicationCommand({ ApplicationName: stuck.application }),
    );
    await msf.send(
      new UpdateApplicationCommand({
        ApplicationName: stuck.application,
        ConditionalToken: detail?.ConditionalToken,
        ApplicationConfigurationUpdate: {
          ApplicationCodeConfigurationUpdate: {
            CodeContentUpdate: { S3ContentLocationUpdate: { FileKeyUpdate: stuck.codeKey } },
          },
        },
      }),
    );
    return (detail?.ApplicationVersionId ?? 0) + 1;
  } finally {
    msf.destroy();
  }
}

/**
 * Why the console asks for each runbook command (`reason` of the message): what the handler records on the incident.
 */
function consoleReason(command: ApplicationCommandName): string {
  if (command === 'pause-automation') return 'paused from the sandbox console';
  if (command === 'resume-automation') return 'resumed from the sandbox console';
  return `${command} requested from the sandbox console`;
}

/**
 * Publishes a runbook command to the command topic through the sandbox's endpoint (SNS Publish, the message and
 * attributes `flink-watchdog remediate --execute` publishes: `dryRun: false`, `requestedBy` "sandbox console";
 * `restart-from-snapshot` with `snapshot` "latest", i.e. RESTORE_FROM_LATEST_SNAPSHOT), so the runbook handler
 * receives it as from the topic's subscription. The handler's answer (DONE or REJECTED) comes later: the incidents of
 * GET /sandbox/state show it (and the application's `automationPaused` for a pause).
 * @returns the SNS MessageId
 * @throws Error naming the field when the command is invalid (e.g. an ApplicationName MSF would refuse); the SNS error
 */
export async function publishRunbookCommand(
  endpoint: string,
  region: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  topicArn: string,
  command: ApplicationCommandName,
  application: string,
): Promise<string> {
  const parsed = RunbookCommand.safeParse({
    command,
    application,
    ...(command === 'restart-from-snapshot' ? { snapshot: 'latest' } : {}),
    requestedBy: 'sandbox console',
    reason: consoleReason(command),
    dryRun: false,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue?.path.join('.') || 'command'}: ${issue?.message ?? 'invalid'}`);
  }
  const message = parsed.data as ApplicationCommand; // an application command: `command` is one
  const sns = new SNSClient({ endpoint, region, credentials, maxAttempts: 1 });
  try {
    return await new SnsCommandPublisher(sns).publish(topicArn, JSON.stringify(message), {
      command: message.command,
      application: message.application,
    });
  } finally {
    sns.destroy();
  }
}

/** The exception a job fails with during an injected outage: the scenario `outage` fault's default. */
export const CONSOLE_OUTAGE_ERROR: string = (() => {
  const fault = Fault.parse({ kind: 'outage', application: 'any', fromMinute: 0 });
  return fault.kind === 'outage' ? fault.error : '';
})();

/** Longest source outage the console injects, minutes (a day). */
export const CONSOLE_OUTAGE_MAX_MINUTES = 1440;

/**
 * The sources (dependencies) each application of `scenario` reads, by ApplicationName: the values of its environment
 * properties, as a scenario's source outage (`faults[].source`) finds the applications it hits (`readsSource`). Sorted,
 * without duplicates.
 */
export function consoleSources(scenario: Pick<Scenario, 'applications'>): Record<string, string[]> {
  return Object.fromEntries(
    scenario.applications.map((a) => [
      a.name,
      [...new Set(Object.values(a.environmentProperties).flatMap((group) => Object.values(group)))].sort(),
    ]),
  );
}

/** Where {@link answerConsoleAction} sends a control's requests: the live sandbox's own endpoint. */
export interface ConsoleActionContext {
  /** `http://127.0.0.1:PORT` of the live sandbox. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** The command topic (SNS TopicArn) runbook commands are published to. */
  readonly commandTopicArn: string;
  /** The scenario's applications (ApplicationName): the only ones a control acts on. */
  readonly applications: readonly string[];
  /** The failure the scenario allows to inject ({@link consoleInjection}); absent: none. */
  readonly injection?: ConsoleInjection;
  /** The sources each application reads ({@link consoleSources}); absent: no source outage can be injected. */
  readonly sources?: Readonly<Record<string, readonly string[]>>;
  /**
   * The emulator's outage fault (Emulator.addOutage) and the virtual time (epoch ms) it starts at; absent: no source
   * outage can be injected.
   */
  readonly outage?: { now(): number; add(application: string, window: OutageWindow): boolean };
  /** The stuck update the scenario allows to inject ({@link consoleStuckUpdate}); absent: none. */
  readonly stuckUpdate?: ConsoleStuckUpdate;
  /** The scenario's startTime, epoch ms: the minute 0 of `stuckUpdate.beforeMinute`. */
  readonly startMs?: number;
  /** The sandbox's virtual time, epoch ms. */
  readonly now?: () => number;
  /**
   * Answers an incident's approval request (approve mode) as the watchdog's `answerApproval` does, with the run's
   * ledger and remediation workflow (the live harness's `answerApproval`); absent: approve / reject are refused.
   */
  readonly answerApproval?: (incidentId: string, answer: ApprovalAnswer) => Promise<AnswerResult>;
}

/** Who the console's answers are recorded as (ApprovalAnswer `by`; `via` is `console`). */
export const CONSOLE_APPROVER = 'sandbox console';

/**
 * Answers `{"action": "approve" | "reject", "incidentId": ID, "reason"?: TEXT}`: a bad incident id, or a reject
 * without a reason (1-1024 characters, not blank), is refused (400) naming the field before anything is called; then
 * `answerApproval` (by {@link CONSOLE_APPROVER}, via `console`): 200 `{incidentId, decision, message}` when the answer
 * was recorded and handed to the waiting workflow, 409 `{error: "ApprovalRefused", message}` when it was refused
 * (unknown incident, not awaiting approval, already answered, timed out).
 */
async function answerApprovalAction(
  action: 'approve' | 'reject',
  request: { incidentId?: unknown; reason?: unknown },
  ctx: ConsoleActionContext,
): Promise<{ status: number; body: unknown }> {
  const refuse = (message: string) => ({ status: 400, body: { error: 'InvalidRequest', message } });
  const { incidentId, reason } = request;
  if (typeof incidentId !== 'string' || !INCIDENT_ID_PATTERN.test(incidentId)) {
    return refuse(
      `incidentId ${JSON.stringify(incidentId)}: expected the id of an incident awaiting approval (as the Incidents list shows it)`,
    );
  }
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON_CHARS)) {
    return refuse(`reason: expected text of at most ${MAX_REASON_CHARS} characters`);
  }
  const why = typeof reason === 'string' ? reason.trim() : '';
  if (action === 'reject' && why === '') {
    return refuse('reason: required to reject: say why the remediation is rejected');
  }
  if (!ctx.answerApproval) return refuse('this sandbox cannot answer approval requests');
  const decision = action === 'approve' ? 'APPROVED' : 'REJECTED';
  const result = await ctx.answerApproval(incidentId, {
    decision,
    by: CONSOLE_APPROVER,
    via: 'console',
    ...(why === '' ? {} : { reason: why }),
  });
  return result.accepted
    ? { status: 200, body: { incidentId, decision, message: result.message } }
    : { status: 409, body: { error: 'ApprovalRefused', message: result.message } };
}

/**
 * The controls of `POST /sandbox/actions` (`action` of its JSON body): `inject-failure`, a runbook command
 * (shared/events/runbook-command.ts, the commands `remediate --execute` publishes), or `approve` / `reject` (an
 * incident's approval request).
 */
export const CONSOLE_ACTIONS = [
  'inject-failure',
  'inject-source-outage',
  'inject-stuck-update',
  ...APPLICATION_COMMANDS,
  ...APPROVAL_COMMANDS,
] as const;

/**
 * Answers `POST /sandbox/actions` with `{"action": A, "application": NAME}`: `inject-failure` ({@link injectFailure}),
 * `inject-source-outage` with `"source"` (a source the application reads) and `"minutes"` (whole minutes, 1-1440): the
 * scenario's source outage fault from the current virtual time, on every application of the scenario reading the source,
 * `inject-stuck-update` ({@link injectStuckUpdate}; refused at or after the rule's `submittedBeforeMinute`),
 * a runbook command such as `snapshot`, `force-stop` or `pause-automation` ({@link publishRunbookCommand}), or
 * `{"action": "approve" | "reject", "incidentId": ID, "reason"?: TEXT}` ({@link answerApprovalAction}; no `application`:
 * the incident names it). A bad body, action or application is
 * refused (400) with the field named, before any request; an error of MSF or SNS answers 409 with its name and message.
 * @returns the HTTP status and JSON body to answer
 */
export async function answerConsoleAction(
  raw: string,
  ctx: ConsoleActionContext,
): Promise<{ status: number; body: unknown }> {
  const refuse = (message: string) => ({ status: 400, body: { error: 'InvalidRequest', message } });
  let request: {
    action?: unknown;
    application?: unknown;
    source?: unknown;
    minutes?: unknown;
    incidentId?: unknown;
    reason?: unknown;
  };
  try {
    request = JSON.parse(raw) as typeof request;
  } catch {
    return refuse('the body must be a JSON object: {"action": ..., "application": ...}');
  }
  if (typeof request !== 'object' || request === null) {
    return refuse('the body must be a JSON object: {"action": ..., "application": ...}');
  }
  const action = request.action;
  if (!(CONSOLE_ACTIONS as readonly unknown[]).includes(action)) {
    return refuse(`action ${JSON.stringify(action)}: expected one of ${CONSOLE_ACTIONS.join(', ')}`);
  }
  if (typeof action === 'string' && isApprovalCommandName(action)) {
    try {
      return await answerApprovalAction(action, request, ctx);
    } catch (e) {
      return { status: 409, body: { error: (e as Error).name, message: (e as Error).message } };
    }
  }
  const application = request.application;
  if (typeof application !== 'string' || !ctx.applications.includes(application)) {
    return refuse(
      `application ${JSON.stringify(application)}: expected an application of the scenario (${ctx.applications.join(', ')})`,
    );
  }
  if (action === 'inject-source-outage') {
    const outage = ctx.outage;
    const sources = ctx.sources?.[application] ?? [];
    if (!outage || sources.length === 0) {
      return refuse(`application ${JSON.stringify(application)}: it reads no source (no environment property value)`);
    }
    const { source, minutes } = request;
    if (typeof source !== 'string' || !sources.includes(source)) {
      return refuse(`source ${JSON.stringify(source)}: expected a source ${application} reads (${sources.join(', ')})`);
    }
    if (
      typeof minutes !== 'number' ||
      !Number.isInteger(minutes) ||
      minutes < 1 ||
      minutes > CONSOLE_OUTAGE_MAX_MINUTES
    ) {
      return refuse(
        `minutes ${JSON.stringify(minutes)}: expected whole minutes from 1 to ${CONSOLE_OUTAGE_MAX_MINUTES}`,
      );
    }
    const fromMs = outage.now();
    const toMs = fromMs + minutes * 60_000;
    const hit = ctx.applications.filter(
      (a) => (ctx.sources?.[a] ?? []).includes(source) && outage.add(a, { fromMs, toMs, error: CONSOLE_OUTAGE_ERROR }),
    );
    return {
      status: 200,
      body: {
        source,
        applications: hit,
        from: new Date(fromMs).toISOString(),
        to: new Date(toMs).toISOString(),
      },
    };
  }
  try {
    if (action === 'inject-stuck-update') {
      const stuck = ctx.stuckUpdate;
      if (!stuck) {
        return refuse("this scenario's job model has no code that hangs: there is no stuck update to inject");
      }
      if (application !== stuck.application) {
        return refuse(
          `application ${JSON.stringify(application)}: the stuck update this scenario can inject is on ${stuck.application}`,
        );
      }
      const nowMs = ctx.now?.();
      if (stuck.beforeMinute !== undefined && ctx.startMs !== undefined && nowMs !== undefined) {
        const deadlineMs = ctx.startMs + stuck.beforeMinute * 60_000;
        if (nowMs >= deadlineMs) {
          return refuse(
            `the job model hangs ${stuck.codeKey} only when submitted before minute ${stuck.beforeMinute} (${new Date(deadlineMs).toISOString()}): it is ${new Date(nowMs).toISOString()}`,
          );
        }
      }
      const version = await injectStuckUpdate(ctx.endpoint, ctx.region, ctx.credentials, stuck);
      return { status: 200, body: { application, applicationVersion: version, deployed: stuck.description } };
    }
    if (action === 'inject-failure') {
      const injection = ctx.injection;
      if (!injection) {
        return refuse("this scenario's job model has no configuration that crash-loops: there is no failure to inject");
      }
      if (application !== injection.application) {
        return refuse(
          `application ${JSON.stringify(application)}: the failure this scenario can inject is on ${injection.application}`,
        );
      }
      const version = await injectFailure(ctx.endpoint, ctx.region, ctx.credentials, injection);
      return { status: 200, body: { application, applicationVersion: version, deployed: injection.description } };
    }
    const messageId = await publishRunbookCommand(
      ctx.endpoint,
      ctx.region,
      ctx.credentials,
      ctx.commandTopicArn,
      action as ApplicationCommandName,
      application,
    );
    return { status: 200, body: { application, command: action, messageId } };
  } catch (e) {
    return { status: 409, body: { error: (e as Error).name, message: (e as Error).message } };
  }
}

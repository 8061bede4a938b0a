import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunbookOutput } from '#functions/runbook/handler.ts';
import { SandboxClock } from './clock.ts';
import { answerConsoleAction, consoleInjection, consoleSources, consoleStuckUpdate } from './console-actions.ts';
import { renderConsolePage, SANDBOX_ACTIONS_PATH } from './console-page.ts';
import { type ConsoleSource, consoleSource, SANDBOX_STATE_PATH } from './console-state.ts';
import {
  type LiveHarness,
  type RunOptions,
  runScenario,
  type ScenarioReport,
  TICK_MS,
  type TimelineLine,
} from './drill.ts';
import type { RecordedCall } from './emulator/server.ts';
import { answerSandbox, listenLocal, SANDBOX_CLOCK_PATH } from './emulator/server.ts';
import type { Scenario } from './scenario.ts';

/** X-Amz-Target prefix of DynamoDB (awsJson1_0): the ledger's API, answered by dynalite. */
export const DYNAMODB_TARGET_PREFIX = 'DynamoDB_20120810.';
/** `Version` of SNS's awsQuery requests (https://docs.aws.amazon.com/sns/latest/api/CommonParameters.html). */
export const SNS_API_VERSION = '2010-03-31';
/** Access key id (and secret) the printed exports give the CLI: any key that is not 12 digits is the home account. */
export const SANDBOX_ACCESS_KEY_ID = 'sandbox';

/** Service names of {@link ServedRequest}: the AWS CLI's names of the services the sandbox answers. */
export type LiveService = 'kinesisanalyticsv2' | 'cloudwatch' | 'tagging' | 'sts' | 'dynamodb' | 'sns' | 'sandbox';

/** One request the live sandbox answered, for `--log-requests`. */
export interface ServedRequest {
  /** Virtual time of the answer (the sandbox clock), epoch ms. */
  atMs: number;
  /** Who sent it: `client` (through the endpoint: the AWS CLI, an SDK, flink-watchdog) or `watchdog` (in-process). */
  caller: 'client' | 'watchdog';
  service: LiveService;
  /** The operation (X-Amz-Target suffix, awsQuery `Action`), or `GET /sandbox/clock` for a sandbox route. */
  operation: string;
  /** HTTP status of the answer (client requests); 200 or 400 from the error type for the watchdog's. */
  status: number;
  /** The AWS error code when the call failed (e.g. `ResourceInUseException`). */
  errorType?: string;
}

/** Options of {@link startLiveSandbox}. */
export interface LiveSandboxOptions {
  /** The scenario whose applications, faults and timeline the sandbox runs (sandbox/scenario.ts, already loaded). */
  readonly scenario: Scenario;
  /** Virtual seconds per wall-clock second, 0 (paused: driven by `POST /sandbox/clock`) to 3600. */
  readonly speed: number;
  /** Each timeline line of the run, as it happens (what the drill prints). */
  readonly onLine?: RunOptions['onLine'];
  /** Each request served, with its answer's status. @default not reported */
  readonly onRequest?: (served: ServedRequest) => void;
  /** A runbook command's result, or the error its delivery threw. @default not reported */
  readonly onRunbook?: (out: RunbookOutput | Error) => void;
}

/** A running live sandbox: the watchdog at work on the emulator, served on one endpoint. */
export interface LiveSandbox {
  /** `http://127.0.0.1:PORT`: every AWS API the CLI needs (MSF, CloudWatch, STS, Tagging, DynamoDB, SNS) and the clock. */
  readonly endpoint: string;
  /** AWS Region of the emulator, e.g. us-east-1. */
  readonly region: string;
  /** The home account's 12-digit id. */
  readonly accountId: string;
  /** The ledger table (DynamoDB TableName) on the endpoint. */
  readonly ledgerTableName: string;
  /** The command topic: SNS Publish of a runbook command to it reaches the runbook handler. */
  readonly commandTopicArn: string;
  /** The clock that drives the run (what `/sandbox/clock` reads and moves). */
  readonly clock: SandboxClock;
  /**
   * Environment variables with which every CLI command and the AWS CLI work against the sandbox (endpoint, Region,
   * dummy credentials, ledger table, command topic, the scenario's watchdog config written to a temporary file
   * (removed by {@link stop}), sandbox clock), in print order.
   */
  readonly environment: ReadonlyArray<readonly [name: string, value: string]>;
  /**
   * Resolves once the run has stepped the world to the sandbox clock's present (every 5-second step up to it done).
   * @throws the run's error when it failed.
   */
  caughtUp(): Promise<void>;
  /**
   * Settles when the run ends: after {@link stop} with its report, or rejected with the error that ended it (an error
   * of the watchdog's harness, not of the watchdog: those are timeline lines).
   */
  readonly ended: Promise<ScenarioReport>;
  /** Stops the run (its last step finishes first) and the endpoint. @returns the run's report, as the drill's */
  stop(): Promise<ScenarioReport>;
}

/** Path of the run's timeline: `GET` answers {@link SandboxTimeline}. */
export const SANDBOX_TIMELINE_PATH = '/sandbox/timeline';

/** Body of `GET /sandbox/timeline`: the clock and every timeline line of the run so far, in order. */
export interface SandboxTimeline {
  /** Virtual now, ISO-8601 UTC with milliseconds. */
  now: string;
  /** Virtual seconds per wall-clock second; 0 = paused. */
  speed: number;
  /** `{atMs, actor, text}` as the drill prints them (atMs: virtual epoch ms). */
  lines: TimelineLine[];
}

/** Name of the environment variable through which the CLI reads the sandbox's virtual clock (see cli/context.ts). */
export const CLOCK_URL_VARIABLE = 'FLINK_WATCHDOG_CLOCK_URL';

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The service of an AWS request, from its X-Amz-Target, else its awsQuery `Version` (SNS or STS). */
function serviceOf(target: string, form: URLSearchParams | undefined): { service: LiveService; operation: string } {
  const prefixes: Array<[string, LiveService]> = [
    ['KinesisAnalytics_20180523.', 'kinesisanalyticsv2'],
    ['GraniteServiceVersion20100801.', 'cloudwatch'],
    ['ResourceGroupsTaggingAPI_20170126.', 'tagging'],
    [DYNAMODB_TARGET_PREFIX, 'dynamodb'],
  ];
  for (const [prefix, service] of prefixes) {
    if (target.startsWith(prefix)) return { service, operation: target.slice(prefix.length) };
  }
  const operation = form?.get('Action') ?? '';
  return { service: form?.get('Version') === SNS_API_VERSION ? 'sns' : 'sts', operation };
}

/** Forwards a request as it came to `endpoint` (the emulator or dynalite) and pipes the answer back. @returns its status */
function forward(endpoint: string, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<number> {
  return new Promise((resolve, reject) => {
    const upstream = request(
      `${endpoint}${req.url ?? '/'}`,
      { method: req.method, headers: { ...req.headers, 'content-length': String(body.length) } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', () => resolve(answer.statusCode ?? 502));
        answer.on('error', reject);
      },
    );
    upstream.on('error', reject);
    upstream.end(body);
  });
}

/** An SNS awsQuery error document (https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html). */
function snsError(res: ServerResponse, status: number, code: string, message: string): number {
  const requestId = randomUUID();
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
  res.end(
    `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/${SNS_API_VERSION}/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  );
  return status;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The SNS Lambda event of one Publish (awsQuery form: TopicArn, Message, Subject,
 * `MessageAttributes.entry.N.Name` / `.Value.DataType` / `.Value.StringValue`), as the topic's subscription delivers it
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html).
 */
export function snsLambdaEvent(form: URLSearchParams, messageId: string, atMs: number): unknown {
  const attributes: Record<string, { Type: string; Value: string }> = {};
  for (let n = 1; form.has(`MessageAttributes.entry.${n}.Name`); n++) {
    const name = form.get(`MessageAttributes.entry.${n}.Name`) ?? '';
    attributes[name] = {
      Type: form.get(`MessageAttributes.entry.${n}.Value.DataType`) ?? 'String',
      Value: form.get(`MessageAttributes.entry.${n}.Value.StringValue`) ?? '',
    };
  }
  const topicArn = form.get('TopicArn') ?? '';
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${topicArn}:${messageId}`,
        Sns: {
          Type: 'Notification',
          MessageId: messageId,
          TopicArn: topicArn,
          Subject: form.get('Subject'),
          Message: form.get('Message') ?? '',
          Timestamp: new Date(atMs).toISOString(),
          MessageAttributes: attributes,
        },
      },
    ],
  };
}

/**
 * Starts `scenario` live: the whole watchdog of the drill (its alarms, the sweep and reconciler schedules, the detector
 * on alarm events, the remediation workflow as synthesized, the ledger on dynalite, notifications recorded and sent to
 * the local Slack receiver, the scenario's timeline) on a virtual clock that runs `speed` times the wall clock, and one
 * endpoint on 127.0.0.1 that serves:
 * - `X-Amz-Target: DynamoDB_20120810.*`: the ledger's table (forwarded to dynalite), so `flink-watchdog history` works;
 * - SNS `Publish` (awsQuery, `Version=2010-03-31`) to the command topic: delivered to the runbook handler, so
 *   `flink-watchdog remediate --execute` works; any other SNS action or topic is an error;
 * - `/sandbox/clock`: GET reads the clock, POST `{"advanceSeconds": N}` / `{"speed": X}` moves it and answers once the
 *   run has stepped the world to the new now;
 * - `GET /sandbox/timeline`: the run's timeline so far ({@link SandboxTimeline});
 * - every other AWS request (MSF, CloudWatch, STS, Tagging): the emulator.
 * - `GET /`: the local console (sandbox/console-page.ts); `GET /sandbox/state`: its data (sandbox/console-state.ts);
 *   `POST /sandbox/actions` `{"action": A, "application": NAME, ...}`: its controls (inject-failure,
 *   inject-source-outage, inject-stuck-update, and the runbook commands; sandbox/console-actions.ts), and
 *   `{"action": "approve" | "reject", "incidentId": ID, "reason"?: TEXT}`: an answer to an incident's approval request
 *   (the harness's `answerApproval`, by `sandbox console` via `console`).
 * @throws the emulator's or dynalite's error when they cannot start.
 */
export async function startLiveSandbox(options: LiveSandboxOptions): Promise<LiveSandbox> {
  const { scenario } = options;
  const clock = new SandboxClock(Date.parse(scenario.startTime), options.speed);
  let stopped = false;
  let failure: Error | undefined;
  /** The last virtual time the run stepped the world to, epoch ms. */
  let stepped = Number.NEGATIVE_INFINITY;
  /** Wakes every waiter (the run's step loop, callers of caughtUp) to look again. */
  let wakers: Array<() => void> = [];
  const wakeAll = () => {
    const woken = wakers;
    wakers = [];
    for (const w of woken) w();
  };
  /** Sleeps until woken, or `ms` wall ms. */
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      wakers.push(done);
    });
  let watchdogCallsSeen = 0;
  /** Every timeline line so far, for `GET /sandbox/timeline`. */
  const timeline: TimelineLine[] = [];
  let harness: LiveHarness | undefined;
  /** The console's data (GET /sandbox/state), sampled after every step. */
  let consoleData: ConsoleSource | undefined;
  let ready: (h: LiveHarness) => void = () => {};
  const started = new Promise<LiveHarness>((resolve) => {
    ready = resolve;
  });
  const run = runScenario(scenario, {
    onLine: (l) => {
      timeline.push(l);
      options.onLine?.(l);
    },
    live: {
      ready: (h) => {
        harness = h;
        consoleData = consoleSource(
          h,
          scenario.name,
          scenario.applications.map((a) => a.name),
        );
        consoleData.sample(clock.now());
        ready(h);
      },
      waitFor: async (atMs) => {
        for (;;) {
          if (stopped) return false;
          const now = clock.now();
          if (now >= atMs) return true;
          await nap(clock.speed > 0 ? Math.min(250, Math.max(1, (atMs - now) / clock.speed)) : 250);
        }
      },
      stepped: (atMs) => {
        stepped = atMs;
        consoleData?.sample(atMs);
        const calls = harness?.emulator.calls ?? [];
        for (; watchdogCallsSeen < calls.length; watchdogCallsSeen++) {
          const c = calls[watchdogCallsSeen] as RecordedCall;
          // The watchdog's own calls (the CLI's, signed with the sandbox's key, were reported as they came in).
          const own = c.userAgent.includes('flink-watchdog') && c.accessKeyId !== SANDBOX_ACCESS_KEY_ID;
          if (!own || !options.onRequest) continue;
          options.onRequest({
            atMs: c.atMs,
            caller: 'watchdog',
            service: serviceOf(
              c.service === 'sts' ? '' : `${PREFIX_OF[c.service]}${c.operation}`,
              c.service === 'sts' ? new URLSearchParams({ Action: c.operation }) : undefined,
            ).service,
            operation: c.operation,
            status: c.errorType ? 400 : 200,
            ...(c.errorType ? { errorType: c.errorType } : {}),
          });
        }
        wakeAll();
      },
    },
  });
  run.then(
    () => wakeAll(),
    (e: unknown) => {
      failure = e instanceof Error ? e : new Error(String(e));
      wakeAll();
    },
  );
  const h = await Promise.race([started, run.then(() => undefined)]);
  if (!h) throw failure ?? new Error('the sandbox run ended before it started');

  const caughtUp = async (): Promise<void> => {
    const goal = clock.now();
    while (stepped + TICK_MS <= goal) {
      if (failure) throw failure;
      if (stopped) return;
      await nap(250);
    }
  };

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const target = (req.headers['x-amz-target'] as string | undefined) ?? '';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    const report = (service: LiveService, operation: string, status: number, errorType?: string) =>
      options.onRequest?.({
        atMs: clock.now(),
        caller: 'client',
        service,
        operation,
        status,
        ...(errorType ? { errorType } : {}),
      });
    if (target === '' && path === SANDBOX_TIMELINE_PATH && method === 'GET') {
      const body: SandboxTimeline = { now: new Date(clock.now()).toISOString(), speed: clock.speed, lines: timeline };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      report('sandbox', `${method} ${path}`, 200);
      return;
    }
    if (target === '' && (path === '/' || path === SANDBOX_STATE_PATH) && method === 'GET') {
      // The local console: the page, and the data it polls.
      const page = path === '/';
      const out = page
        ? renderConsolePage({
            scenario,
            applications: scenario.applications.map((a) => a.name),
            sources,
            ...(injection ? { injection } : {}),
            ...(stuckUpdate ? { stuckUpdate } : {}),
          })
        : JSON.stringify(await (consoleData as ConsoleSource).state(clock.now(), clock.speed));
      res.writeHead(200, { 'content-type': page ? 'text/html; charset=utf-8' : 'application/json' });
      res.end(out);
      return;
    }
    if (target === '' && path === SANDBOX_ACTIONS_PATH && method === 'POST') {
      const { status, body: out } = await act(body.toString('utf8'));
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
      report('sandbox', `${method} ${path}`, status);
      return;
    }
    if (target === '' && path.startsWith('/sandbox/')) {
      const sandbox = answerSandbox(method, path, body.toString('utf8'), clock, wakeAll);
      if (sandbox.status === 200 && method === 'POST') {
        wakeAll();
        await caughtUp();
      }
      const out =
        sandbox.status === 200 ? { now: new Date(clock.now()).toISOString(), speed: clock.speed } : sandbox.body;
      res.writeHead(sandbox.status, { 'content-type': 'application/json', ...sandbox.headers });
      res.end(JSON.stringify(out));
      report('sandbox', `${method} ${path}`, sandbox.status);
      return;
    }
    const form =
      target === '' && method === 'POST' && path === '/' ? new URLSearchParams(body.toString('utf8')) : undefined;
    if (target === '' && !form) {
      // The root path (and any other) without X-Amz-Target: left to a console.
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: 'NotFound',
          message: `no route ${method} ${path}: AWS requests are POST / (X-Amz-Target or an awsQuery form); the sandbox clock is ${SANDBOX_CLOCK_PATH}`,
        }),
      );
      return;
    }
    const { service, operation } = serviceOf(target, form);
    if (service === 'sns' && form) {
      const status = publish(form, operation, res);
      report('sns', operation, status);
      return;
    }
    const status = await forward(service === 'dynamodb' ? h.ledger.endpoint : h.emulator.endpoint, req, body, res);
    report(service, operation, status);
  };

  const injection = consoleInjection(scenario);
  const sources = consoleSources(scenario);
  const stuckUpdate = consoleStuckUpdate(scenario);
  /** POST /sandbox/actions: the console's controls, sent through this endpoint as a person's requests. */
  const act = (raw: string) =>
    answerConsoleAction(raw, {
      endpoint,
      region,
      credentials: { accessKeyId: SANDBOX_ACCESS_KEY_ID, secretAccessKey: SANDBOX_ACCESS_KEY_ID },
      commandTopicArn: h.commandTopicArn,
      applications: scenario.applications.map((a) => a.name),
      ...(injection ? { injection } : {}),
      sources,
      ...(stuckUpdate ? { stuckUpdate, startMs: Date.parse(scenario.startTime) } : {}),
      now: () => clock.now(),
      answerApproval: (incidentId, answer) => h.answerApproval(incidentId, answer),
      outage: {
        now: () => clock.now(),
        add: (name, window) =>
          h.emulator.addOutage(name, window, scenario.applications.find((a) => a.name === name)?.accountId),
      },
    });

  /** SNS Publish to the command topic: answered at once, delivered to the runbook handler (async, as SNS → Lambda). */
  const publish = (form: URLSearchParams, action: string, res: ServerResponse): number => {
    if (action !== 'Publish') {
      return snsError(res, 400, 'InvalidAction', `the sandbox's SNS serves Publish to ${h.commandTopicArn} only`);
    }
    const topicArn = form.get('TopicArn') ?? form.get('TargetArn') ?? '';
    if (topicArn !== h.commandTopicArn) {
      return snsError(
        res,
        404,
        'NotFound',
        `Topic does not exist: the sandbox's command topic is ${h.commandTopicArn}`,
      );
    }
    const messageId = randomUUID();
    h.runbook(snsLambdaEvent(form, messageId, clock.now())).then(
      (out) => options.onRunbook?.(out),
      (e: unknown) => options.onRunbook?.(e instanceof Error ? e : new Error(String(e))),
    );
    const requestId = randomUUID();
    res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    res.end(
      `<PublishResponse xmlns="http://sns.amazonaws.com/doc/${SNS_API_VERSION}/"><PublishResult><MessageId>${messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`,
    );
    return 200;
  };

  const server = await listenLocal(answer);
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const region = h.emulator.region;
  // The scenario's watchdog config, for the commands that read one (status, drift, remediate): a file of its own.
  const configDir = mkdtempSync(join(tmpdir(), 'flink-watchdog-sandbox-'));
  const configPath = join(configDir, 'flink-watchdog.config.json');
  writeFileSync(configPath, `${JSON.stringify(scenario.watchdog, null, 2)}\n`);
  return {
    endpoint,
    region,
    accountId: h.emulator.accountId,
    ledgerTableName: h.ledger.tableName,
    commandTopicArn: h.commandTopicArn,
    clock,
    environment: [
      ['AWS_ENDPOINT_URL', endpoint],
      ['AWS_REGION', region],
      ['AWS_DEFAULT_REGION', region],
      ['AWS_ACCESS_KEY_ID', SANDBOX_ACCESS_KEY_ID],
      ['AWS_SECRET_ACCESS_KEY', SANDBOX_ACCESS_KEY_ID],
      ['LEDGER_TABLE_NAME', h.ledger.tableName],
      ['COMMAND_TOPIC_ARN', h.commandTopicArn],
      ['WATCHDOG_CONFIG_PATH', configPath],
      [CLOCK_URL_VARIABLE, `${endpoint}${SANDBOX_CLOCK_PATH}`],
    ],
    caughtUp,
    ended: run,
    stop: async () => {
      stopped = true;
      wakeAll();
      try {
        return await run;
      } finally {
        rmSync(configDir, { recursive: true, force: true });
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
    },
  };
}

/** X-Amz-Target prefixes by the emulator's service names, to name the watchdog's calls as clients' are named. */
const PREFIX_OF: Record<Exclude<RecordedCall['service'], 'sts'>, string> = {
  kinesisanalytics: 'KinesisAnalytics_20180523.',
  monitoring: 'GraniteServiceVersion20100801.',
  tagging: 'ResourceGroupsTaggingAPI_20170126.',
  logs: 'Logs_20140328.',
  ssm: 'AmazonSSM.',
};

import { blocksHtml, escapeHtml } from '#cli/report-html.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { describeRemediation } from '#shared/domain/decision.ts';
import type { ApprovalRecord, Incident, IncidentEvent } from '#shared/domain/incident.ts';
import { SLACK_APPROVE_ACTION_ID, SLACK_REJECT_ACTION_ID } from '#shared/notify/slack.ts';
import type { LiveHarness } from './drill.ts';
import { MSF_NAMESPACE } from './emulator/metric-publisher.ts';

/** Path of the console's data: `GET` answers {@link ConsoleState}. */
export const SANDBOX_STATE_PATH = '/sandbox/state';

/** How far back the console's series reach, virtual minutes. */
export const CONSOLE_WINDOW_MINUTES = 30;

/** One application as the console shows it. */
export interface ConsoleApplication {
  /** ApplicationName. */
  name: string;
  /** ApplicationStatus now (e.g. RUNNING, UPDATING, ROLLING_BACK). */
  status: string;
  /** ApplicationVersionId now. */
  versionId: number;
  /**
   * The job's restart counter over the last {@link CONSOLE_WINDOW_MINUTES} virtual minutes: the emulator's CloudWatch
   * metric `fullRestarts` (`numRestarts` on Flink 2), namespace AWS/KinesisAnalytics, dimension Application, 1-minute
   * Maximum (GetMetricData), oldest first. `atMs`: the period's start, epoch ms; `restarts`: count.
   */
  restarts: Array<{ atMs: number; restarts: number }>;
  /** Each ApplicationStatus the application entered within the window (seen at the run's 5-second step), oldest first. */
  statuses: Array<{ atMs: number; status: string }>;
  /** The ledger's automation pause of the application (runbook `pause-automation`), or null when automation is on. */
  automationPaused: { by: string; reason: string; atMs: number } | null;
  /** The CloudWatch alarms on the application (named after it or tagged with it), with their StateValue. */
  alarms: Array<{ name: string; state: string; reason: string }>;
}

/** One incident of the ledger, with its timeline. */
export interface ConsoleIncident {
  id: string;
  applicationName: string;
  /** IncidentStatus (e.g. OPEN, REMEDIATING, RESOLVED, ESCALATED). */
  status: string;
  /** What the detector found (the finding's kind), when it found one. */
  finding?: string;
  /** epoch ms */
  openedMs: number;
  closedMs?: number;
  outcomeReason?: string;
  /** The incident's events (the ledger's record), oldest first. */
  events: Array<Pick<IncidentEvent, 'atMs' | 'kind' | 'message'>>;
  /**
   * approve mode: the remediation put to people (`action`, as `describeRemediation` words it), the request's state
   * (PENDING until answered: the console then offers Approve / Reject), when it was asked and when it times out (epoch
   * ms), and the answer once given.
   */
  approval?: {
    state: ApprovalRecord['state'];
    action: string;
    requestedMs: number;
    timeoutMs: number;
    onTimeout: ApprovalRecord['onTimeout'];
    answer?: NonNullable<ApprovalRecord['answer']>;
  };
}

/** One Slack message as sent to the webhook, and as HTML rendered from its Block Kit blocks. */
export interface ConsoleNotification {
  /** Virtual time the receiver got it, epoch ms. */
  atMs: number;
  /** The message's `text` (Slack's fallback). */
  text: string;
  /**
   * Block Kit blocks rendered as simple HTML (every text escaped; see cli/report-html.ts `blocksHtml`); the Approve /
   * Reject buttons of an approval request as working buttons ({@link slackBlocksHtml}).
   */
  html: string;
  /** What the receiver answered: an HTTP status, or `timeout`. */
  answer: number | 'timeout';
}

/** Body of `GET /sandbox/state`: what the local console shows. */
export interface ConsoleState {
  /** Virtual now, ISO-8601 UTC with milliseconds. */
  now: string;
  /** Virtual now, epoch ms. */
  nowMs: number;
  /** Virtual seconds per wall-clock second; 0 = paused (driven by POST /sandbox/clock). */
  speed: number;
  /** The scenario's name. */
  scenario: string;
  applications: ConsoleApplication[];
  incidents: ConsoleIncident[];
  notifications: ConsoleNotification[];
}

/** Reads the live run for the console: applications from the emulator, incidents from the ledger, Slack messages sent. */
export interface ConsoleSource {
  /** Records each application's ApplicationStatus at a step of the run (virtual epoch ms); call after every step. */
  sample(atMs: number): void;
  /** The console's state at virtual `nowMs`. @throws the ledger's error when dynalite cannot be read */
  state(nowMs: number, speed: number): Promise<ConsoleState>;
}

interface GetMetricDataOutput {
  MetricDataResults?: Array<{ Timestamps?: number[]; Values?: number[] }>;
}

/**
 * The console's data source over a live harness: `applications` are the names to show (the scenario's, in order).
 * Reads the emulator in-process (no API call is recorded), the ledger through its DynamoDB client.
 */
export function consoleSource(harness: LiveHarness, scenario: string, applications: readonly string[]): ConsoleSource {
  const ledger = new DynamoDbLedger({ tableName: harness.ledger.tableName, client: harness.ledger.client });
  const statuses = new Map<string, Array<{ atMs: number; status: string }>>();
  const sample = (atMs: number) => {
    for (const name of applications) {
      const seen = harness.emulator.inspect(name);
      if (!seen) continue;
      const list = statuses.get(name) ?? [];
      if (list.at(-1)?.status !== seen.status) list.push({ atMs, status: seen.status });
      statuses.set(name, list);
    }
  };
  const restartSeries = (name: string, fromMs: number, toMs: number) => {
    const query = (metricName: string) =>
      harness.emulator.cloudwatch.handle('GetMetricData', {
        StartTime: fromMs / 1000,
        EndTime: toMs / 1000,
        MetricDataQueries: [
          {
            Id: 'restarts',
            MetricStat: {
              Metric: {
                Namespace: MSF_NAMESPACE,
                MetricName: metricName,
                Dimensions: [{ Name: 'Application', Value: name }],
              },
              Period: 60,
              Stat: 'Maximum',
            },
          },
        ],
      }) as GetMetricDataOutput;
    for (const metricName of ['fullRestarts', 'numRestarts']) {
      const result = query(metricName).MetricDataResults?.[0];
      const times = result?.Timestamps ?? [];
      if (times.length === 0) continue;
      return times
        .map((t, i) => ({ atMs: toEpochMs(t), restarts: result?.Values?.[i] ?? 0 }))
        .sort((a, b) => a.atMs - b.atMs);
    }
    return [];
  };
  return {
    sample,
    state: async (nowMs, speed) => {
      const fromMs = nowMs - CONSOLE_WINDOW_MINUTES * 60_000;
      const alarms = harness.emulator.cloudwatch.alarms();
      const apps: ConsoleApplication[] = [];
      for (const name of applications) {
        const seen = harness.emulator.inspect(name);
        if (!seen) continue;
        const entered = statuses.get(name) ?? [];
        // The status held at the window's start, then each change within it.
        const before = entered.filter((s) => s.atMs < fromMs).at(-1);
        const pause = await ledger.automationPause(name);
        apps.push({
          name,
          status: seen.status,
          versionId: seen.versionId,
          restarts: restartSeries(name, fromMs, nowMs),
          statuses: [
            ...(before ? [{ atMs: fromMs, status: before.status }] : []),
            ...entered.filter((s) => s.atMs >= fromMs),
          ],
          automationPaused: pause ? { by: pause.pausedBy, reason: pause.reason, atMs: pause.atMs } : null,
          alarms: alarms
            .filter((a) => a.alarmName.includes(name) || Object.values(a.tags).includes(name))
            .map((a) => ({ name: a.alarmName, state: a.stateValue, reason: a.stateReason })),
        });
      }
      const incidents = (await ledger.listIncidents()).sort((a, b) => a.openedMs - b.openedMs).map(consoleIncident);
      const notifications = harness.slackMessages.map((m) => ({
        atMs: m.atMs,
        text: m.body.text ?? '',
        html: slackBlocksHtml(m.body.blocks ?? [], m.body.text ?? ''),
        answer: m.answer,
      }));
      return {
        now: new Date(nowMs).toISOString(),
        nowMs,
        speed,
        scenario,
        applications: apps,
        incidents,
        notifications,
      };
    },
  };
}

/** GetMetricData Timestamps: epoch seconds on the wire (awsJson1_0), or a Date / ISO string in-process. */
function toEpochMs(t: unknown): number {
  if (typeof t === 'number') return t < 1e11 ? t * 1000 : t;
  if (t instanceof Date) return t.getTime();
  return Date.parse(String(t));
}

/** The console action of a Slack button's `action_id`: approve / reject an incident's approval request. */
const APPROVAL_BUTTONS: Readonly<Record<string, 'approve' | 'reject'>> = {
  [SLACK_APPROVE_ACTION_ID]: 'approve',
  [SLACK_REJECT_ACTION_ID]: 'reject',
};

/**
 * A Slack message's blocks as HTML for the console: as `blocksHtml` renders them, except an `actions` block's Approve /
 * Reject buttons (`action_id` flink-watchdog-approve / flink-watchdog-reject, `value` the incident id), which become
 * `<button data-approval="approve|reject" data-incident="ID">` that the console page answers as Slack's interactivity
 * endpoint would (POST /sandbox/actions); a button's Block Kit `confirm` dialog becomes `data-confirm` (its title and
 * text), which the page asks first. Every text is escaped.
 */
export function slackBlocksHtml(blocks: unknown[], fallback: string): string {
  if (blocks.length === 0) return blocksHtml([], fallback);
  return blocks
    .map((b) => {
      const block = b as {
        type?: string;
        elements?: Array<{
          action_id?: unknown;
          value?: unknown;
          text?: { text?: unknown };
          confirm?: { title?: { text?: unknown }; text?: { text?: unknown } };
        }>;
      };
      const elements = block.elements ?? [];
      const approval = elements.filter((e) => typeof e.action_id === 'string' && APPROVAL_BUTTONS[e.action_id]);
      if (block.type !== 'actions' || approval.length === 0) return blocksHtml([b], fallback);
      const others = elements.filter((e) => !approval.includes(e));
      const buttons = approval.map((e) => {
        const action = APPROVAL_BUTTONS[e.action_id as string] ?? 'approve';
        const label = typeof e.text?.text === 'string' ? e.text.text : action;
        // A Block Kit `confirm` dialog: the page asks it (window.confirm) before answering, as Slack does.
        const question = [e.confirm?.title?.text, e.confirm?.text?.text]
          .filter((t) => typeof t === 'string')
          .join('\n');
        const confirm = question ? ` data-confirm="${escapeHtml(question)}"` : '';
        return `<button type="button" class="button slack-approval" data-approval="${action}" data-incident="${escapeHtml(String(e.value ?? ''))}"${confirm}>${escapeHtml(label)}</button>`;
      });
      const rest = others.length > 0 ? blocksHtml([{ ...block, elements: others }], fallback) : '';
      return `<p class="actions">${buttons.join(' ')}</p>${rest}`;
    })
    .join('\n');
}

function consoleIncident(i: Incident): ConsoleIncident {
  return {
    id: i.id,
    applicationName: i.applicationName,
    status: i.status,
    ...(i.finding ? { finding: i.finding.kind } : {}),
    openedMs: i.openedMs,
    ...(i.closedMs === undefined ? {} : { closedMs: i.closedMs }),
    ...(i.outcomeReason ? { outcomeReason: i.outcomeReason } : {}),
    events: i.events.map((e) => ({ atMs: e.atMs, kind: e.kind, message: e.message })),
    ...(i.approval
      ? {
          approval: {
            state: i.approval.state,
            action: describeRemediation(i.approval.action),
            requestedMs: i.approval.requestedMs,
            timeoutMs: i.approval.timeoutMs,
            onTimeout: i.approval.onTimeout,
            ...(i.approval.answer ? { answer: i.approval.answer } : {}),
          },
        }
      : {}),
  };
}

import { addEvent, type IncidentEvent } from '#shared/domain/incident.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';

/** One delivery channel (Slack, SNS, EventBridge, …). Its notifier retries on its own and throws when it gives up. */
export interface NotificationChannel {
  /** Short name shown in the incident and the drill report, e.g. `slack`, `sns`, `eventbridge`. */
  name: string;
  notifier: Notifier;
}

/** A notification a channel could not deliver, as sent to the dead-letter queue. No secret, no property value. */
export interface UndeliveredNotification {
  channel: string;
  event: Notification['event'];
  incidentId: string;
  applicationName: string;
  title: string;
  /** Why delivery failed (secrets scrubbed). */
  error: string;
  atMs: number;
}

/** Options of {@link FanOutNotifier}. */
export interface FanOutNotifierOptions {
  channels: NotificationChannel[];
  /** Where a failed delivery is recorded on the incident (its timeline). */
  ledger?: Ledger;
  /** Where undelivered notifications go (an SQS dead-letter queue with an alarm, in AWS). */
  deadLetter?: (undelivered: UndeliveredNotification) => Promise<void>;
  log: Log;
  /**
   * Longest a channel may take for one notification, retries included, before it counts as not delivered, ms: a slow
   * Slack must not hold a step until its Lambda times out.
   * @default 15000
   */
  deadlineMs?: number;
}

/** Anything that looks like a Slack webhook URL or a bearer token, replaced before an error is logged or stored. */
const SECRETS = [/https?:\/\/hooks\.slack(-gov)?\.com\/\S*/gi, /xox[abposr]-[A-Za-z0-9-]+/g];

/** Removes Slack webhook URLs and tokens from a message. */
export function scrubSecrets(message: string): string {
  return SECRETS.reduce((m, re) => m.replace(re, '[redacted]'), message);
}

/**
 * Delivers each notification to every channel at once. A channel that fails (after its own retries) never blocks or
 * undoes anything: the failure is recorded on the incident's timeline (event ERROR, added to the stored incident with
 * `Ledger.updateIncident`, so a concurrent save of the incident cannot erase it, and to the notification's copy), the
 * notification goes to the dead-letter queue, and the error is logged without secrets. `notify` never throws.
 */
export class FanOutNotifier implements Notifier {
  readonly #options: FanOutNotifierOptions;

  constructor(options: FanOutNotifierOptions) {
    this.#options = options;
  }

  async notify(n: Notification): Promise<void> {
    const deadlineMs = this.#options.deadlineMs ?? 15_000;
    const results = await Promise.allSettled(
      this.#options.channels.map((c) => withDeadline(c.notifier.notify(n), deadlineMs, c.name)),
    );
    const failures = results.flatMap((r, i) =>
      r.status === 'rejected' ? [{ channel: this.#options.channels[i]?.name ?? '?', reason: r.reason as unknown }] : [],
    );
    if (failures.length === 0) return;
    const failedEvents: IncidentEvent[] = [];
    for (const f of failures) {
      const error = scrubSecrets(f.reason instanceof Error ? f.reason.message : String(f.reason));
      this.#options.log.warn('notification not delivered', {
        channel: f.channel,
        event: n.event,
        incidentId: n.incident.id,
        error,
      });
      // Into the step's copy (its later saves keep it) and, below, into the stored incident (never overwriting it).
      addEvent(n.incident, n.atMs, 'ERROR', `${n.event} notification to ${f.channel} not delivered: ${error}`);
      failedEvents.push(n.incident.events.at(-1) as IncidentEvent);
      try {
        await this.#options.deadLetter?.({
          channel: f.channel,
          event: n.event,
          incidentId: n.incident.id,
          applicationName: n.incident.applicationName,
          title: n.title,
          error,
          atMs: n.atMs,
        });
      } catch (e) {
        this.#options.log.error('dead-letter queue unreachable', { error: scrubSecrets(String(e)) });
      }
    }
    try {
      // Only these events are added to the stored incident, read fresh and saved conditionally (again on a conflict):
      // neither a stale copy (e.g. from before the workflow started) nor a step saving at the same moment loses one.
      await this.#options.ledger?.updateIncident(n.incident.id, (stored) => {
        stored.events.push(...failedEvents.map((e) => ({ ...e })));
        return stored;
      });
    } catch (e) {
      this.#options.log.error('could not record the failed delivery', { error: scrubSecrets(String(e)) });
    }
  }
}

/** `work`, or a rejection once `ms` have passed (the work itself carries on in the background, its result ignored). */
async function withDeadline(work: Promise<void>, ms: number, channel: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${channel}: no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

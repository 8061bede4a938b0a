import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import type { Clock } from '#shared/clock.ts';

/**
 * A local AWS Systems Manager serving the one operation the watchdog calls, GetCalendarState (awsJson1_1,
 * `X-Amz-Target: AmazonSSM.GetCalendarState`), over Change Calendars defined by the scenario
 * (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCalendarState.html):
 * - `CalendarNames` (required): names or document ARNs (`arn:aws:ssm:REGION:ACCOUNT:document/NAME`); an unknown one
 *   answers `InvalidDocument` (the model's error for "The SSM document doesn't exist or the document isn't available
 *   to the user"); a missing or empty list answers `ValidationException` (the model's shape of the common error
 *   ValidationError, https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html).
 * - `AtTime` (optional, ISO 8601): the instant asked about; default the emulator's clock. A value that is not a date
 *   answers `ValidationException`.
 * - `State`: CLOSED when any calendar is CLOSED at that instant, else OPEN ("the command returns the status of OPEN
 *   only if all calendars in the request are open").
 * - `AtTime` in the answer: the instant used; `NextTransitionTime`: the next instant the combined state changes,
 *   omitted when it never changes again.
 * Every calendar is a DEFAULT_OPEN calendar whose events close it ("DEFAULT_OPEN ... events close the calendar",
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-change-calendar.html): `closed`
 * windows, [fromMs, toMs). Times in the answer are ISO 8601 in UTC to the second (`2026-03-02T15:00:00Z`), an
 * assumption (the API types them as free strings; the AWS CLI reference's example shows this form).
 */

/** The model's target prefix of AWS Systems Manager (awsJson1_1). */
export const SSM_TARGET_PREFIX = 'AmazonSSM.';

/** One Change Calendar of the emulator: a DEFAULT_OPEN calendar closed during `closed` (epoch ms, [fromMs, toMs)). */
export interface EmulatorCalendar {
  /** The calendar document's name (3–128 of A-Z a-z 0-9 _ . -). */
  readonly name: string;
  readonly closed: ReadonlyArray<{ readonly fromMs: number; readonly toMs: number }>;
}

/** ISO 8601 in UTC to the second, e.g. `2026-03-02T15:00:00Z`. */
function isoSeconds(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

const DOCUMENT_ARN = /^arn:aws[a-z-]*:ssm:([a-z0-9-]+):(\d{12}):document\/(.+)$/;

/** AWS Systems Manager of one account: its Change Calendars. */
export class SsmEmulator {
  readonly #clock: Clock;
  readonly #region: string;
  readonly #accountId: string;
  readonly #calendars = new Map<string, EmulatorCalendar>();

  /**
   * @throws RangeError when a calendar is defined twice or a closed window ends before it starts.
   */
  constructor(options: { clock: Clock; region: string; accountId: string; calendars?: readonly EmulatorCalendar[] }) {
    this.#clock = options.clock;
    this.#region = options.region;
    this.#accountId = options.accountId;
    for (const calendar of options.calendars ?? []) {
      if (this.#calendars.has(calendar.name)) {
        throw new RangeError(`change calendar ${calendar.name} is defined twice`);
      }
      for (const w of calendar.closed) {
        if (!(w.toMs > w.fromMs)) {
          throw new RangeError(`change calendar ${calendar.name}: a closed window must end after it starts`);
        }
      }
      this.#calendars.set(calendar.name, calendar);
    }
  }

  /**
   * Runs one SSM operation.
   * @throws EmulatorServiceError (`InvalidDocument`, `ValidationException`, `UnknownOperationException`).
   */
  handle(operation: string, input: unknown): unknown {
    if (operation === 'GetCalendarState') return this.#getCalendarState(input);
    throw new EmulatorServiceError('UnknownOperationException', `Unknown operation ${operation}`);
  }

  #calendar(nameOrArn: string): EmulatorCalendar {
    const arn = DOCUMENT_ARN.exec(nameOrArn);
    const name = arn ? (arn[3] ?? '') : nameOrArn;
    const here = !arn || (arn[1] === this.#region && arn[2] === this.#accountId);
    const calendar = here ? this.#calendars.get(name) : undefined;
    if (!calendar) {
      throw new EmulatorServiceError(
        'InvalidDocument',
        `The SSM document ${nameOrArn} doesn't exist or the document isn't available to the user.`,
      );
    }
    return calendar;
  }

  #getCalendarState(input: unknown): unknown {
    const { CalendarNames: names, AtTime: atTime } = (input ?? {}) as { CalendarNames?: unknown; AtTime?: unknown };
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string')) {
      throw new EmulatorServiceError(
        'ValidationException',
        '1 validation error detected: Value at calendarNames failed to satisfy constraint: Member must not be null or empty',
      );
    }
    let atMs = this.#clock.now();
    if (atTime !== undefined) {
      const parsed = typeof atTime === 'string' ? Date.parse(atTime) : Number.NaN;
      if (!Number.isFinite(parsed)) {
        throw new EmulatorServiceError('ValidationException', `AtTime ${String(atTime)} is not an ISO 8601 time`);
      }
      atMs = parsed;
    }
    const calendars = (names as string[]).map((n) => this.#calendar(n));
    const closedAt = (t: number) => calendars.some((c) => c.closed.some((w) => w.fromMs <= t && t < w.toMs));
    const state = closedAt(atMs);
    const boundaries = [
      ...new Set(calendars.flatMap((c) => c.closed.flatMap((w) => [w.fromMs, w.toMs])).filter((t) => t > atMs)),
    ].sort((a, b) => a - b);
    const next = boundaries.find((t) => closedAt(t) !== state);
    return {
      State: state ? 'CLOSED' : 'OPEN',
      AtTime: isoSeconds(atMs),
      ...(next === undefined ? {} : { NextTransitionTime: isoSeconds(next) }),
    };
  }
}

import type { SSMClient, SSMClientConfig } from '@aws-sdk/client-ssm';
import type { CalendarState, ChangeCalendarPort } from '#shared/ports/change-calendar.ts';
import { WATCHDOG_USER_AGENT } from './msf.ts';
import { onFirstUse } from './on-first-use.ts';

/**
 * Reads AWS Systems Manager Change Calendars with GetCalendarState
 * (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCalendarState.html): one call for all the
 * calendars, `State` OPEN only when every one is OPEN, `NextTransitionTime` (ISO 8601) when the state changes next.
 * The SSM client module is loaded at the first read, not at cold start: a watchdog without `changeFreeze` never loads
 * it.
 */
export class SsmChangeCalendar implements ChangeCalendarPort {
  readonly #client: () => Promise<SSMClient>;

  /**
   * @param options.client a ready client (tests); else one made from `clientConfig` at the first read.
   * @param options.clientConfig SSMClient configuration (region, endpoint for the sandbox, retry mode).
   */
  constructor(options: { client?: SSMClient; clientConfig?: SSMClientConfig } = {}) {
    this.#client = onFirstUse(options.client, async () => {
      const { SSMClient: Client } = await import('./lazy/ssm.ts');
      return new Client({ customUserAgent: [WATCHDOG_USER_AGENT], ...options.clientConfig });
    });
  }

  /**
   * GetCalendarState of `calendarNames` (names or document ARNs, 1–10) at the current time.
   * @throws RangeError when `calendarNames` is empty or has more than 10 names (`changeFreeze.calendars` allows 1–10);
   *   the SSM error as the SDK raises it (`InvalidDocument` for a calendar that does not exist, `InvalidDocumentType`
   *   for a document that is not a change calendar, `AccessDeniedException`, throttling), and an Error when SSM
   *   answers a `State` other than OPEN or CLOSED.
   */
  async getCalendarState(calendarNames: string[]): Promise<CalendarState> {
    if (calendarNames.length === 0 || calendarNames.length > 10) {
      throw new RangeError(
        `changeFreeze.calendars: GetCalendarState takes 1 to 10 calendar names or ARNs (got ${calendarNames.length})`,
      );
    }
    const { GetCalendarStateCommand } = await import('./lazy/ssm.ts');
    const ssm = await this.#client();
    const out = await ssm.send(new GetCalendarStateCommand({ CalendarNames: calendarNames }));
    if (out.State !== 'OPEN' && out.State !== 'CLOSED') {
      throw new Error(`GetCalendarState answered State ${String(out.State)} for ${calendarNames.join(', ')}`);
    }
    const next = out.NextTransitionTime === undefined ? Number.NaN : Date.parse(out.NextTransitionTime);
    return { state: out.State, ...(Number.isFinite(next) ? { nextTransitionMs: next } : {}) };
  }
}

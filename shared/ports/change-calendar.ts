/** The combined state of SSM Change Calendars (GetCalendarState, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCalendarState.html). */
export interface CalendarState {
  /** `State`: OPEN or CLOSED (CLOSED when any of the calendars is CLOSED). */
  state: 'OPEN' | 'CLOSED';
  /** `NextTransitionTime`, ms; absent when the calendars have no further event. */
  nextTransitionMs?: number;
}

/** Reads SSM Change Calendars. */
export interface ChangeCalendarPort {
  /**
   * GetCalendarState of `calendarNames` (names or ARNs, at most 10) now.
   * @throws Error from SSM (e.g. InvalidDocument for a calendar that does not exist, AccessDenied).
   */
  getCalendarState(calendarNames: string[]): Promise<CalendarState>;
}

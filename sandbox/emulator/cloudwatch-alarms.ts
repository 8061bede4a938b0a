/**
 * The metric-alarm evaluator of the CloudWatch emulator: given the datapoints of an alarm's evaluation range, decides
 * the alarm's next state exactly as the CloudWatch User Guide describes it. Pure: no clock, no store, no I/O.
 *
 * Source for every rule in this file (unless a line says otherwise): CloudWatch User Guide, "Configuring how CloudWatch
 * alarms treat missing data", section "How alarm state is evaluated when data is missing" and its sub-section
 * "Avoiding premature transitions to alarm state":
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
 */

/** The TreatMissingData values of PutMetricAlarm (API model enum). */
export const TREAT_MISSING_DATA = ['missing', 'notBreaching', 'breaching', 'ignore'] as const;
/** How an alarm treats missing datapoints (PutMetricAlarm `TreatMissingData`, default `missing`). */
export type TreatMissingData = (typeof TREAT_MISSING_DATA)[number];

/**
 * Periods an alarm with `evaluationPeriods` = N retrieves: its evaluation range, counted in periods.
 *
 * ASSUMPTION: N + 2. The User Guide says CloudWatch "attempts to retrieve a higher number of data points than the
 * number specified as Evaluation Periods", that "the exact number ... depends on the length of the alarm period and
 * whether it is based on a metric with standard resolution or high resolution", and gives one size: with Evaluation
 * Periods 3 the evaluation range is 5 (both tables of the section). No general formula is published; N + 2 reproduces
 * the documented example and keeps the extra look-back small (a larger range would let older datapoints decide).
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
 */
export function evaluationRangePeriods(evaluationPeriods: number): number {
  return evaluationPeriods + 2;
}

/** What {@link evaluateRange} needs to know about an alarm. */
export interface RangeEvaluationInput {
  /**
   * The evaluation range, NEWEST period first: `range[0]` is the most recent complete period. `undefined` = no datapoint
   * (missing). Its length is the evaluation range size ({@link evaluationRangePeriods}).
   */
  readonly range: ReadonlyArray<number | undefined>;
  /** EvaluationPeriods (N), ≥ 1. */
  readonly evaluationPeriods: number;
  /** DatapointsToAlarm (M), 1..N; CloudWatch uses N when it is omitted. */
  readonly datapointsToAlarm: number;
  readonly treatMissingData: TreatMissingData;
  /** Whether a value breaches the threshold (the alarm's ComparisonOperator against its Threshold). */
  readonly breaches: (value: number) => boolean;
}

/** One datapoint the decision was made on. */
export interface EvaluatedDatapoint {
  /** Index in `range` (0 = the newest period). */
  readonly index: number;
  /** The real value; `undefined` for a missing datapoint filled in with TreatMissingData. */
  readonly value: number | undefined;
  /** True when the datapoint (real, or filled as `breaching`) counts as breaching. */
  readonly breaching: boolean;
}

/** Which documented rule produced a decision (for reasons, tests and the fidelity notes). */
export type EvaluationRule =
  /** At least N real datapoints in the range: the most recent N real ones decide; TreatMissingData is not used. */
  | 'most-recent-real-datapoints'
  /** Fewer than N real datapoints: the missing ones are filled as TreatMissingData says (breaching / notBreaching). */
  | 'filled-with-treat-missing-data'
  /** Fewer than N real datapoints and TreatMissingData missing/ignore: the real datapoints decide. */
  | 'real-datapoints-only'
  /** "Avoiding premature transitions to alarm state": an old enough breach with only breaches/gaps after it. */
  | 'premature-alarm-rule'
  /** Every datapoint of the range is missing. */
  | 'all-missing';

/** The outcome of evaluating one alarm's range. */
export type RangeEvaluation =
  | {
      readonly kind: 'state';
      readonly value: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
      readonly rule: EvaluationRule;
      /** Datapoints the decision used, newest first (real ones and, when filled, the missing ones). */
      readonly evaluated: readonly EvaluatedDatapoint[];
      /** Breaching datapoints among `evaluated` (filled ones included). */
      readonly breachingCount: number;
      /** Missing datapoints filled in with TreatMissingData. */
      readonly filledCount: number;
    }
  | {
      /** The alarm keeps its current state (TreatMissingData `ignore`, or a premature ALARM that is held back). */
      readonly kind: 'retain';
      readonly rule: EvaluationRule;
    };

/**
 * Decides an alarm's next state from its evaluation range.
 *
 * Rules (User Guide, "How alarm state is evaluated when data is missing"):
 * 1. real datapoints ≥ N: "CloudWatch evaluates the alarm state based on the most recent real data points that were
 *    successfully retrieved, including the necessary extra data points from farther back in the evaluation range. In
 *    this case, the value you set for how to treat missing data is not needed and is ignored." ALARM when at least M of
 *    those N breach, else OK.
 * 2. real datapoints < N: "CloudWatch fills in the missing data points with the result you specified for how to treat
 *    missing data ... all real data points in the evaluation range are included in the evaluation. CloudWatch uses
 *    missing data points only as few times as possible": N − r missing datapoints are filled.
 *    - `breaching` / `notBreaching`: filled as breaching / not breaching; ALARM when ≥ M breach, else OK.
 *    - `missing`: no real datapoint → INSUFFICIENT_DATA ("If all data points in the alarm evaluation range are missing,
 *      the alarm transitions to INSUFFICIENT_DATA"); `ignore`: no real datapoint → the current state is kept.
 *    - `missing` / `ignore` with some real datapoints: ALARM when ≥ M real datapoints breach; OK when a real datapoint
 *      does not breach (tables: `0 - - - -` and `0 - X - -` are OK under both); otherwise every real datapoint breaches
 *      but fewer than M: the premature-alarm rule below.
 * 3. Premature alarm ("Avoiding premature transitions to alarm state"): "alarms are designed to always go into ALARM
 *    state when the oldest available breaching datapoint during the Evaluation Periods number of data points is at least
 *    as old as the value of Datapoints to Alarm, and all other more recent data points are breaching or missing" →
 *    ALARM under `missing`; the tables give "Retain current state" under `ignore` (`- - X - -`, `- - - X -`). When the
 *    breach is too recent (`- - - - X`, `- - - X -` with M = 3) "the alarm does not go immediately into ALARM state".
 *    ASSUMPTION: it then keeps its current state (the guide names no other state; "the next data point may be
 *    non-breaching" reads as waiting for it). The rule is applied only when fewer than N real datapoints exist, the case
 *    the section describes; with N real datapoints rule 1 already decides.
 */
export function evaluateRange(input: RangeEvaluationInput): RangeEvaluation {
  const { range, treatMissingData, breaches } = input;
  const n = input.evaluationPeriods;
  const m = input.datapointsToAlarm;
  const real: EvaluatedDatapoint[] = [];
  range.forEach((value, index) => {
    if (value !== undefined) real.push({ index, value, breaching: breaches(value) });
  });
  const count = (points: readonly EvaluatedDatapoint[]) => points.filter((p) => p.breaching).length;
  const decided = (
    value: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA',
    rule: EvaluationRule,
    evaluated: readonly EvaluatedDatapoint[],
    filledCount = 0,
  ): RangeEvaluation => ({ kind: 'state', value, rule, evaluated, breachingCount: count(evaluated), filledCount });

  // Rule 1: enough real datapoints — the most recent N real ones decide, TreatMissingData is ignored.
  if (real.length >= n) {
    const evaluated = real.slice(0, n);
    return decided(count(evaluated) >= m ? 'ALARM' : 'OK', 'most-recent-real-datapoints', evaluated);
  }

  // Rule 2: fewer than N real datapoints.
  if (treatMissingData === 'breaching' || treatMissingData === 'notBreaching') {
    // Fill N − r missing datapoints ("as few times as possible"): the most recent missing periods of the range.
    const missingIndices = range.flatMap((v, index) => (v === undefined ? [index] : [])).slice(0, n - real.length);
    const filled = missingIndices.map((index) => ({
      index,
      value: undefined,
      breaching: treatMissingData === 'breaching',
    }));
    const evaluated = [...real, ...filled].sort((a, b) => a.index - b.index);
    const rule = real.length === 0 ? 'all-missing' : 'filled-with-treat-missing-data';
    return decided(count(evaluated) >= m ? 'ALARM' : 'OK', rule, evaluated, filled.length);
  }

  if (real.length === 0) {
    return treatMissingData === 'missing'
      ? decided('INSUFFICIENT_DATA', 'all-missing', [])
      : { kind: 'retain', rule: 'all-missing' };
  }
  if (count(real) >= m) return decided('ALARM', 'real-datapoints-only', real);
  if (real.some((p) => !p.breaching)) return decided('OK', 'real-datapoints-only', real);

  // Rule 3: every real datapoint breaches, fewer than M of them.
  const recent = real.filter((p) => p.index < n);
  const oldestBreach = recent[recent.length - 1];
  const oldEnough = oldestBreach !== undefined && oldestBreach.index + 1 >= m;
  if (oldEnough && treatMissingData === 'missing') return decided('ALARM', 'premature-alarm-rule', real);
  return { kind: 'retain', rule: 'premature-alarm-rule' };
}

import { describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { CloudWatchEmulator } from '#sandbox/emulator/cloudwatch.ts';
import { evaluateRange, evaluationRangePeriods, type TreatMissingData } from '#sandbox/emulator/cloudwatch-alarms.ts';

/**
 * Both tables of the CloudWatch User Guide section "How alarm state is evaluated when data is missing"
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html), every cell:
 * Evaluation Periods 3, evaluation range 5, Datapoints to Alarm 3 (first table) and 2 (second table).
 * Patterns are written as in the guide: oldest datapoint LEFT, most recent RIGHT; `0` does not breach, `X` breaches,
 * `-` is missing. RETAIN = "Retain current state".
 */

const MINUTE = 60_000;
/** 2026-03-02T14:00:00Z, a minute boundary. */
const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);
const NS = 'Sandbox/Tables';
const DIMS = { Application: 'orders-enricher' };
const TREATMENTS: readonly TreatMissingData[] = ['missing', 'ignore', 'breaching', 'notBreaching'];
const RETAIN = 'RETAIN';

type Cell = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA' | typeof RETAIN;
interface Row {
  readonly pattern: string;
  /** Column 2 of the guide: datapoints that must be filled in with TreatMissingData. */
  readonly filled: number;
  readonly cells: Readonly<Record<TreatMissingData, Cell>>;
}
interface Table {
  readonly name: string;
  readonly datapointsToAlarm: number;
  readonly rows: readonly Row[];
}

const row = (
  pattern: string,
  filled: number,
  missing: Cell,
  ignore: Cell,
  breaching: Cell,
  notBreaching: Cell,
): Row => ({
  pattern,
  filled,
  cells: { missing, ignore, breaching, notBreaching },
});

const TABLES: readonly Table[] = [
  {
    name: 'first table: Datapoints to Alarm 3 of Evaluation Periods 3',
    datapointsToAlarm: 3,
    rows: [
      row('0 - X - X', 0, 'OK', 'OK', 'OK', 'OK'),
      row('0 - - - -', 2, 'OK', 'OK', 'OK', 'OK'),
      row('- - - - -', 3, 'INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK'),
      row('0 X X - X', 0, 'ALARM', 'ALARM', 'ALARM', 'ALARM'),
      row('- - X - -', 2, 'ALARM', RETAIN, 'ALARM', 'OK'),
    ],
  },
  {
    name: 'second table: Datapoints to Alarm 2 of Evaluation Periods 3',
    datapointsToAlarm: 2,
    rows: [
      row('0 - X - X', 0, 'ALARM', 'ALARM', 'ALARM', 'ALARM'),
      row('0 0 X 0 X', 0, 'ALARM', 'ALARM', 'ALARM', 'ALARM'),
      row('0 - X - -', 1, 'OK', 'OK', 'ALARM', 'OK'),
      row('- - - - 0', 2, 'OK', 'OK', 'ALARM', 'OK'),
      row('- - - X -', 2, 'ALARM', RETAIN, 'ALARM', 'OK'),
    ],
  },
];

const CELLS = TABLES.flatMap((table) =>
  table.rows.flatMap((r) =>
    TREATMENTS.map((treat) => ({
      table: table.name,
      m: table.datapointsToAlarm,
      pattern: r.pattern,
      filled: r.filled,
      treat,
      expected: r.cells[treat],
    })),
  ),
);

/** `0 - X` (oldest left) → values NEWEST first, as {@link evaluateRange} takes them; `X` = 1, `0` = 0. */
function newestFirst(pattern: string): Array<number | undefined> {
  return pattern
    .split(' ')
    .map((c) => (c === 'X' ? 1 : c === '0' ? 0 : undefined))
    .reverse();
}

function evaluatePattern(pattern: string, m: number, treat: TreatMissingData) {
  return evaluateRange({
    range: newestFirst(pattern),
    evaluationPeriods: 3,
    datapointsToAlarm: m,
    treatMissingData: treat,
    breaches: (v) => v > 0,
  });
}

function newEmulator(): CloudWatchEmulator {
  return new CloudWatchEmulator({ clock: new VirtualClock(T0), region: 'eu-west-1', accountId: '123456789012' });
}

/** A single-metric alarm "Maximum > 0" over 1-minute periods, 3 evaluation periods. */
function putGaugeAlarm(cw: CloudWatchEmulator, m: number, treat: TreatMissingData): void {
  cw.handle('PutMetricAlarm', {
    AlarmName: 'gauge',
    Namespace: NS,
    MetricName: 'downtime',
    Dimensions: [{ Name: 'Application', Value: DIMS.Application }],
    Statistic: 'Maximum',
    Period: 60,
    EvaluationPeriods: 3,
    DatapointsToAlarm: m,
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: treat,
  });
}

/** A metric-math alarm `DIFF(counter) > 0` as the watchdog's restart-loop alarm is built. */
function putDiffAlarm(cw: CloudWatchEmulator, m: number, treat: TreatMissingData): void {
  cw.handle('PutMetricAlarm', {
    AlarmName: 'gauge',
    EvaluationPeriods: 3,
    DatapointsToAlarm: m,
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: treat,
    Metrics: [
      {
        Id: 'restarts',
        MetricStat: {
          Metric: {
            Namespace: NS,
            MetricName: 'fullRestarts',
            Dimensions: [{ Name: 'Application', Value: 'orders-enricher' }],
          },
          Period: 60,
          Stat: 'Maximum',
        },
        ReturnData: false,
      },
      { Id: 'newRestarts', Expression: 'DIFF(restarts)', ReturnData: true },
    ],
  });
}

/** Stores the pattern as `downtime` datapoints in the 5 minutes before `endMs` (oldest left). */
function feedGauge(cw: CloudWatchEmulator, pattern: string, endMs: number): void {
  const symbols = pattern.split(' ');
  symbols.forEach((c, i) => {
    if (c === '-') return;
    const timestampMs = endMs - (symbols.length - i) * MINUTE;
    cw.putDatapoint({ namespace: NS, metricName: 'downtime', dimensions: DIMS, timestampMs, value: c === 'X' ? 1 : 0 });
  });
}

/**
 * Stores a cumulative `fullRestarts` counter whose DIFF is the pattern: a base value one minute before the range,
 * then +1 for `X`, unchanged for `0`, no datapoint for `-` (DIFF of a missing minute is missing).
 */
function feedCounter(cw: CloudWatchEmulator, pattern: string, endMs: number): void {
  const symbols = pattern.split(' ');
  let counter = 7;
  const put = (timestampMs: number) =>
    cw.putDatapoint({ namespace: NS, metricName: 'fullRestarts', dimensions: DIMS, timestampMs, value: counter });
  put(endMs - (symbols.length + 1) * MINUTE);
  symbols.forEach((c, i) => {
    if (c === '-') return;
    if (c === 'X') counter += 1;
    put(endMs - (symbols.length - i) * MINUTE);
  });
}

function stateOf(cw: CloudWatchEmulator): string | undefined {
  return cw.alarms()[0]?.stateValue;
}

/**
 * Runs one cell through the emulator, evaluating 17 s after the minute boundary that closes the range. For a RETAIN
 * cell the alarm is first put in each of OK and ALARM with SetAlarmState, and must stay there.
 */
function runCell(
  kind: 'gauge' | 'diff',
  cell: { pattern: string; m: number; treat: TreatMissingData; expected: Cell },
): string[] {
  const starts: ReadonlyArray<'OK' | 'ALARM' | undefined> = cell.expected === RETAIN ? ['OK', 'ALARM'] : [undefined];
  return starts.map((start) => {
    const cw = newEmulator();
    if (kind === 'gauge') {
      putGaugeAlarm(cw, cell.m, cell.treat);
      feedGauge(cw, cell.pattern, T0);
    } else {
      putDiffAlarm(cw, cell.m, cell.treat);
      feedCounter(cw, cell.pattern, T0);
    }
    if (start) {
      cw.handle('SetAlarmState', { AlarmName: 'gauge', StateValue: start, StateReason: 'set by the test' });
    }
    cw.evaluateAlarms(T0 + 17_000);
    const state = stateOf(cw) ?? '?';
    return start === undefined ? state : state === start ? RETAIN : `${state} (from ${start})`;
  });
}

describe('Function: evaluateRange', () => {
  it('uses an evaluation range of 5 for 3 evaluation periods, as both tables do', () => {
    expect(evaluationRangePeriods(3)).toBe(5);
  });

  it.each(CELLS)('$table: $pattern under $treat → $expected', ({ pattern, m, treat, expected }) => {
    // Act
    const outcome = evaluatePattern(pattern, m, treat);

    // Assess
    expect(outcome.kind === 'retain' ? RETAIN : outcome.value).toBe(expected);
  });

  it.each(
    TABLES.flatMap((t) =>
      t.rows.map((r) => ({ table: t.name, m: t.datapointsToAlarm, pattern: r.pattern, filled: r.filled })),
    ),
  )('$table: $pattern fills $filled missing datapoints (column 2)', ({ pattern, m, filled }) => {
    // Act: breaching and notBreaching fill exactly the datapoints column 2 counts.
    const outcomes = (['breaching', 'notBreaching'] as const).map((treat) => evaluatePattern(pattern, m, treat));

    // Assess
    expect(outcomes.map((o) => (o.kind === 'state' ? o.filledCount : -1))).toEqual([filled, filled]);
  });

  it('does not go to ALARM prematurely on a recent lone breach (- - - - X, - - - X -; 3 of 3)', () => {
    // Prepare: "the alarm does not go immediately into ALARM state when the data is either - - - - X or - - - X - and
    // Datapoints to Alarm is 3."
    const patterns = ['- - - - X', '- - - X -'];

    // Act
    const outcomes = patterns.flatMap((p) => (['missing', 'ignore'] as const).map((t) => evaluatePattern(p, 3, t)));

    // Assess
    expect(outcomes.map((o) => (o.kind === 'state' ? o.value : RETAIN))).toEqual([RETAIN, RETAIN, RETAIN, RETAIN]);
  });

  it('evaluates the most recent N real datapoints and reports which ones', () => {
    // Act: `0 X X - X` (3 of 3): the missing period is skipped and the older X is used.
    const outcome = evaluatePattern('0 X X - X', 3, 'notBreaching');

    // Assess
    expect(outcome).toMatchObject({
      kind: 'state',
      value: 'ALARM',
      rule: 'most-recent-real-datapoints',
      filledCount: 0,
      evaluated: [
        { index: 0, value: 1 },
        { index: 2, value: 1 },
        { index: 3, value: 1 },
      ],
    });
  });
});

describe('Class: CloudWatchEmulator', () => {
  describe('Method: evaluateAlarms (missing-data tables, single-metric alarm)', () => {
    it.each(CELLS)('$table: $pattern under $treat → $expected', (cell) => {
      // Act
      const states = runCell('gauge', cell);

      // Assess
      expect(new Set(states)).toEqual(new Set([cell.expected]));
    });
  });

  describe('Method: evaluateAlarms (missing-data tables, DIFF metric-math alarm)', () => {
    it.each(CELLS)('$table: $pattern under $treat → $expected', (cell) => {
      // Act
      const states = runCell('diff', cell);

      // Assess
      expect(new Set(states)).toEqual(new Set([cell.expected]));
    });
  });

  describe('Method: evaluateAlarms (the alarms the watchdog creates)', () => {
    it('raises a restart-loop alarm (DIFF > 0, notBreaching, 3 of 3) on 0 X X - X', () => {
      // Prepare
      const cw = newEmulator();
      putDiffAlarm(cw, 3, 'notBreaching');
      feedCounter(cw, '0 X X - X', T0);

      // Act
      const [event] = cw.evaluateAlarms(T0 + 17_000);

      // Assess
      expect(stateOf(cw)).toBe('ALARM');
      expect(event?.detail.state.reason).toBe(
        'Threshold Crossed: 3 out of the last 3 datapoints [1.0 (02/03/26 13:59:00), 1.0 (02/03/26 13:57:00), ' +
          '1.0 (02/03/26 13:56:00)] were greater than the threshold (0.0) (minimum 3 datapoints for OK -> ALARM transition).',
      );
    });

    it('keeps a downtime alarm (breaching, 3 of 3) OK on 0 - - - -, and raises it one minute later', () => {
      // Prepare
      const cw = newEmulator();
      putGaugeAlarm(cw, 3, 'breaching');
      feedGauge(cw, '0 - - - -', T0);

      // Act
      cw.evaluateAlarms(T0 + 17_000);
      const first = stateOf(cw);
      cw.evaluateAlarms(T0 + MINUTE + 17_000);

      // Assess: "The next time this alarm is evaluated, if the data is still missing it will go to ALARM, as that
      // non-breaching data point will no longer be in the evaluation range."
      expect(first).toBe('OK');
      expect(stateOf(cw)).toBe('ALARM');
    });
  });
});

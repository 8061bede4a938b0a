import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import {
  evaluateExpression,
  type GridSeries,
  type MathNode,
  MetricMathError,
  parseExpression,
  referencedIds,
} from '#sandbox/emulator/metric-math.ts';
import type { Clock } from '#shared/clock.ts';
import {
  ALARM_STATE_CHANGE_DETAIL_TYPE,
  type AlarmEventMetric,
  AlarmStateChangeEvent,
  type AlarmStateValue,
} from '#shared/events/alarm-state-change.ts';

// ---------------------------------------------------------------------------------------------------------------
// Wire shapes (awsJson1_0, query-compatible). Field names are the CloudWatch API's; timestamps are epoch SECONDS.
// ---------------------------------------------------------------------------------------------------------------

const COMPARISON_OPERATORS = [
  'GreaterThanThreshold',
  'GreaterThanOrEqualToThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
] as const;
type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

const TREAT_MISSING_DATA = ['missing', 'notBreaching', 'breaching', 'ignore'] as const;
type TreatMissingData = (typeof TREAT_MISSING_DATA)[number];

const STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'] as const;
const STATE_VALUES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;

const Dimension = z.object({ Name: z.string().min(1).max(255), Value: z.string().min(1).max(1024) });
const Dimensions = z.array(Dimension).max(30);
const Metric = z.object({
  Namespace: z.string().min(1).max(255).optional(),
  MetricName: z.string().min(1).max(255).optional(),
  Dimensions: Dimensions.optional(),
});
const MetricStat = z.object({
  Metric,
  /** Seconds. */
  Period: z.number().int().min(1),
  Stat: z.string().min(1),
  Unit: z.string().optional(),
});
const MetricDataQuery = z.object({
  Id: z.string().min(1).max(255),
  MetricStat: MetricStat.optional(),
  Expression: z.string().min(1).max(2048).optional(),
  Label: z.string().optional(),
  ReturnData: z.boolean().optional(),
  /** Seconds; only meaningful with Expression. */
  Period: z.number().int().min(1).optional(),
  AccountId: z.string().optional(),
});
type MetricDataQueryInput = z.infer<typeof MetricDataQuery>;
const ActionList = z.array(z.string().min(1).max(1024)).max(5);

const PutMetricAlarmInput = z.object({
  AlarmName: z.string().min(1).max(255),
  AlarmDescription: z.string().max(1024).optional(),
  ActionsEnabled: z.boolean().optional(),
  OKActions: ActionList.optional(),
  AlarmActions: ActionList.optional(),
  InsufficientDataActions: ActionList.optional(),
  MetricName: z.string().min(1).max(255).optional(),
  Namespace: z.string().min(1).max(255).optional(),
  Statistic: z.enum(STATISTICS).optional(),
  ExtendedStatistic: z.string().optional(),
  Dimensions: Dimensions.optional(),
  /** Seconds. */
  Period: z.number().int().min(1).optional(),
  Unit: z.string().optional(),
  EvaluationPeriods: z.number().int().min(1),
  DatapointsToAlarm: z.number().int().min(1).optional(),
  Threshold: z.number().optional(),
  ComparisonOperator: z.enum(COMPARISON_OPERATORS),
  TreatMissingData: z.enum(TREAT_MISSING_DATA).optional(),
  EvaluateLowSampleCountPercentile: z.string().optional(),
  Metrics: z.array(MetricDataQuery).max(20).optional(),
  Tags: z.array(z.object({ Key: z.string().min(1).max(128), Value: z.string().max(256) })).optional(),
  ThresholdMetricId: z.string().optional(),
});

const DescribeAlarmsInput = z.object({
  AlarmNames: z.array(z.string().min(1).max(255)).max(100).optional(),
  AlarmNamePrefix: z.string().min(1).max(255).optional(),
  AlarmTypes: z.array(z.enum(['CompositeAlarm', 'MetricAlarm'])).optional(),
  StateValue: z.enum(STATE_VALUES).optional(),
  ActionPrefix: z.string().min(1).max(1024).optional(),
  MaxRecords: z.number().int().min(1).max(100).optional(),
  NextToken: z.string().optional(),
});

const DeleteAlarmsInput = z.object({ AlarmNames: z.array(z.string().min(1).max(255)).max(100) });

const GetMetricDataInput = z.object({
  MetricDataQueries: z.array(MetricDataQuery).min(1).max(500),
  /** Epoch seconds (may be fractional). */
  StartTime: z.number(),
  /** Epoch seconds (may be fractional). */
  EndTime: z.number(),
  NextToken: z.string().optional(),
  ScanBy: z.enum(['TimestampDescending', 'TimestampAscending']).optional(),
  MaxDatapoints: z.number().int().min(1).optional(),
  LabelOptions: z.object({ Timezone: z.string().optional() }).optional(),
});

// ---------------------------------------------------------------------------------------------------------------
// Internal model
// ---------------------------------------------------------------------------------------------------------------

interface Sample {
  readonly t: number;
  readonly v: number;
  readonly unit: string;
}

/** A validated MetricDataQuery: exactly one of `stat` / `expression`. */
interface Query {
  readonly id: string;
  readonly label: string | undefined;
  readonly returnData: boolean;
  /** Expression queries: the `Period` field (seconds), if given. */
  readonly period: number | undefined;
  readonly stat?: {
    readonly namespace: string;
    readonly metricName: string;
    readonly dimensions: ReadonlyArray<{ readonly Name: string; readonly Value: string }>;
    /** Seconds. */
    readonly period: number;
    readonly stat: string;
    readonly unit: string | undefined;
  };
  readonly expression?: { readonly text: string; readonly ast: MathNode };
}

interface AlarmState {
  value: AlarmStateValue;
  reason: string;
  reasonData: string | undefined;
  /** Epoch ms of the last state update. */
  updatedMs: number;
}

interface Alarm {
  readonly name: string;
  readonly arn: string;
  readonly description: string | undefined;
  readonly actionsEnabled: boolean;
  readonly okActions: readonly string[];
  readonly alarmActions: readonly string[];
  readonly insufficientDataActions: readonly string[];
  /** Single-metric form, as sent (`undefined` for metric-math alarms). */
  readonly single:
    | {
        readonly namespace: string;
        readonly metricName: string;
        readonly dimensions: ReadonlyArray<{ readonly Name: string; readonly Value: string }>;
        readonly statistic: string | undefined;
        readonly extendedStatistic: string | undefined;
        readonly unit: string | undefined;
      }
    | undefined;
  /** Queries evaluated (for single-metric alarms one synthetic MetricStat query). */
  readonly queries: readonly Query[];
  /** Id of the query whose values the alarm compares (ReturnData true). */
  readonly returnId: string;
  /** Seconds. */
  readonly period: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number | undefined;
  readonly threshold: number;
  readonly comparisonOperator: ComparisonOperator;
  readonly treatMissingData: TreatMissingData;
  readonly tags: ReadonlyArray<{ readonly Key: string; readonly Value: string }>;
  /** Epoch ms. */
  readonly configUpdatedMs: number;
  state: AlarmState;
  /** Epoch ms of the last change of `state.value`. */
  transitionedMs: number;
}

/** Periods before the evaluation range that a metric-math alarm also queries, so DIFF/RATE have a previous value. */
const ALARM_MATH_LOOKBACK_PERIODS = 5;
/** Upper bound on datapoints per query in GetMetricData (CloudWatch's own MaxDatapoints default). */
const MAX_DATAPOINTS = 100_800;
const MINUTE_MS = 60_000;

// ---------------------------------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link CloudWatchEmulator}. */
export interface CloudWatchEmulatorOptions {
  /** Source of "now" for configuration timestamps (AlarmConfigurationUpdatedTimestamp, initial StateUpdatedTimestamp). */
  readonly clock: Clock;
  /** Region in alarm ARNs and events, e.g. `eu-west-1`. */
  readonly region: string;
  /** 12-digit account id in alarm ARNs and events. */
  readonly accountId: string;
}

/** One datapoint for {@link CloudWatchEmulator.putDatapoint}. */
export interface EmulatorDatapoint {
  readonly namespace: string;
  readonly metricName: string;
  /** Dimension name → value; order does not matter. */
  readonly dimensions: Readonly<Record<string, string>>;
  /** Epoch ms of the START of the 1-minute period this value describes. */
  readonly timestampMs: number;
  readonly value: number;
  /** CloudWatch StandardUnit, e.g. `Count`, `Milliseconds`; default `None`. */
  readonly unit?: string;
}

/** One alarm as {@link CloudWatchEmulator.alarms} reports it. */
export interface EmulatorAlarmSummary {
  readonly alarmName: string;
  readonly stateValue: AlarmStateValue;
  readonly stateReason: string;
}

/**
 * In-memory CloudWatch for the local sandbox: stores metric datapoints, serves the awsJson1_0 operations
 * PutMetricAlarm, DescribeAlarms, DeleteAlarms and GetMetricData, and evaluates metric alarms at minute boundaries,
 * producing the "CloudWatch Alarm State Change" EventBridge events real CloudWatch would put on the default bus.
 *
 * Every time comes from the injected clock or from the `nowMs` given to {@link evaluateAlarms}; never the wall clock.
 */
export class CloudWatchEmulator {
  readonly #clock: Clock;
  readonly #region: string;
  readonly #accountId: string;
  readonly #series = new Map<string, Sample[]>();
  readonly #unsorted = new Set<string>();
  readonly #alarms = new Map<string, Alarm>();
  #eventCounter = 0;

  constructor(opts: CloudWatchEmulatorOptions) {
    this.#clock = opts.clock;
    this.#region = opts.region;
    this.#accountId = opts.accountId;
  }

  /**
   * Stores one datapoint. Several datapoints for the same metric and minute are kept as separate samples,
   * as PutMetricData would (SampleCount counts them, Sum adds them).
   * @throws TypeError when `timestampMs` or `value` is not a finite number.
   */
  putDatapoint(p: EmulatorDatapoint): void {
    if (!Number.isFinite(p.timestampMs) || !Number.isFinite(p.value)) {
      throw new TypeError(`putDatapoint: timestampMs and value must be finite numbers (${p.metricName})`);
    }
    const key = seriesKey(p.namespace, p.metricName, p.dimensions);
    let samples = this.#series.get(key);
    if (!samples) {
      samples = [];
      this.#series.set(key, samples);
    }
    const last = samples[samples.length - 1];
    if (last && last.t > p.timestampMs) this.#unsorted.add(key);
    samples.push({ t: p.timestampMs, v: p.value, unit: p.unit ?? 'None' });
  }

  /**
   * Runs one awsJson1_0 operation (`X-Amz-Target: GraniteServiceVersion20100801.<operation>`) and returns its JSON
   * output object. Timestamps in input and output are epoch seconds, as the query-compatible JSON protocol sends them.
   * @throws EmulatorServiceError with `type` = the exception name from the CloudWatch API model
   *   (ValidationException, InvalidParameterValueException, MissingRequiredParameterException,
   *   InvalidParameterCombinationException, ResourceNotFound, InvalidNextToken) or UnknownOperationException.
   */
  handle(operation: string, input: unknown): unknown {
    switch (operation) {
      case 'PutMetricAlarm':
        return this.#putMetricAlarm(parseInput(PutMetricAlarmInput, input));
      case 'DescribeAlarms':
        return this.#describeAlarms(parseInput(DescribeAlarmsInput, input));
      case 'DeleteAlarms':
        return this.#deleteAlarms(parseInput(DeleteAlarmsInput, input));
      case 'GetMetricData':
        return this.#getMetricData(parseInput(GetMetricDataInput, input));
      default:
        throw new EmulatorServiceError(
          'UnknownOperationException',
          `The CloudWatch emulator does not implement ${operation} (it serves PutMetricAlarm, DescribeAlarms, DeleteAlarms, GetMetricData).`,
        );
    }
  }

  /**
   * Evaluates every alarm at `nowMs` (epoch ms, a minute boundary): the alarm looks at its last EvaluationPeriods
   * periods, period k covering [now − (k+1)·Period, now − k·Period). Returns one event per alarm whose state value
   * changed, in alarm-name order. Each event passes `AlarmStateChangeEvent.parse`.
   */
  evaluateAlarms(nowMs: number): AlarmStateChangeEvent[] {
    const events: AlarmStateChangeEvent[] = [];
    for (const alarm of [...this.#alarms.values()].sort((a, b) => compare(a.name, b.name))) {
      const next = this.#evaluate(alarm, nowMs);
      if (!next || next.value === alarm.state.value) continue;
      const previous = alarm.state;
      alarm.state = next;
      alarm.transitionedMs = nowMs;
      events.push(this.#stateChangeEvent(alarm, previous, nowMs));
    }
    return events;
  }

  /** Current alarms in name order: name, StateValue and StateReason. */
  alarms(): ReadonlyArray<EmulatorAlarmSummary> {
    return [...this.#alarms.values()]
      .sort((a, b) => compare(a.name, b.name))
      .map((a) => ({ alarmName: a.name, stateValue: a.state.value, stateReason: a.state.reason }));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Operations
  // -------------------------------------------------------------------------------------------------------------

  #putMetricAlarm(input: z.infer<typeof PutMetricAlarmInput>): Record<string, never> {
    if (input.ThresholdMetricId !== undefined) {
      throw new EmulatorServiceError(
        'InvalidParameterValueException',
        'ThresholdMetricId (anomaly detection bands) is not supported by the CloudWatch emulator.',
      );
    }
    if (input.Threshold === undefined) {
      throw new EmulatorServiceError('MissingRequiredParameterException', 'The parameter Threshold is required.');
    }
    if (input.DatapointsToAlarm !== undefined && input.DatapointsToAlarm > input.EvaluationPeriods) {
      throw new EmulatorServiceError(
        'ValidationException',
        'DatapointsToAlarm must be less than or equal to EvaluationPeriods',
      );
    }

    let single: Alarm['single'];
    let queries: Query[];
    let returnId: string;
    let period: number;
    if (input.Metrics !== undefined) {
      const conflicting = (
        ['MetricName', 'Namespace', 'Dimensions', 'Period', 'Unit', 'Statistic', 'ExtendedStatistic'] as const
      ).find((f) => input[f] !== undefined);
      if (conflicting) {
        throw new EmulatorServiceError(
          'ValidationException',
          `${conflicting} should not be set if list of Metrics is set.`,
        );
      }
      queries = parseQueries(input.Metrics, 'Metrics');
      const returning = queries.filter((q) => q.returnData);
      const [only] = returning;
      if (returning.length !== 1 || !only) {
        throw new EmulatorServiceError(
          'ValidationException',
          'Exactly one element of the metrics list should return data.',
        );
      }
      returnId = only.id;
      const periods = new Set(queries.flatMap((q) => (q.stat ? [q.stat.period] : q.period ? [q.period] : [])));
      if (periods.size !== 1) {
        throw new EmulatorServiceError(
          'ValidationException',
          periods.size === 0
            ? 'The metrics list must contain at least one MetricStat (or an expression with Period).'
            : `All metrics of an alarm must use the same Period; got ${[...periods].join(', ')}.`,
        );
      }
      period = [...periods][0] ?? 60;
      this.#checkQueryGraph(queries);
    } else {
      if (input.MetricName === undefined)
        throw new EmulatorServiceError('ValidationException', 'MetricName must not be null');
      if (input.Namespace === undefined)
        throw new EmulatorServiceError('ValidationException', 'Namespace must not be null');
      if (input.Period === undefined) throw new EmulatorServiceError('ValidationException', 'Period must not be null');
      if (input.Statistic !== undefined && input.ExtendedStatistic !== undefined) {
        throw new EmulatorServiceError(
          'InvalidParameterCombinationException',
          'Statistic and ExtendedStatistic are mutually exclusive; specify exactly one.',
        );
      }
      const stat = input.Statistic ?? input.ExtendedStatistic;
      if (stat === undefined) {
        throw new EmulatorServiceError(
          'MissingRequiredParameterException',
          'One of the parameters Statistic or ExtendedStatistic is required.',
        );
      }
      if (input.ExtendedStatistic !== undefined && !isPercentile(input.ExtendedStatistic)) {
        throw new EmulatorServiceError(
          'InvalidParameterValueException',
          `The value ${input.ExtendedStatistic} for parameter ExtendedStatistic is not supported by the emulator (use pNN or pNN.NN).`,
        );
      }
      checkPeriod(input.Period, 'Period', false);
      period = input.Period;
      single = {
        namespace: input.Namespace,
        metricName: input.MetricName,
        dimensions: input.Dimensions ?? [],
        statistic: input.Statistic,
        extendedStatistic: input.ExtendedStatistic,
        unit: input.Unit,
      };
      returnId = 'm1';
      queries = [
        {
          id: returnId,
          label: undefined,
          returnData: true,
          period: undefined,
          stat: {
            namespace: single.namespace,
            metricName: single.metricName,
            dimensions: single.dimensions,
            period,
            stat,
            unit: input.Unit,
          },
        },
      ];
    }

    const now = this.#clock.now();
    const existing = this.#alarms.get(input.AlarmName);
    this.#alarms.set(input.AlarmName, {
      name: input.AlarmName,
      arn: `arn:aws:cloudwatch:${this.#region}:${this.#accountId}:alarm:${input.AlarmName}`,
      description: input.AlarmDescription,
      actionsEnabled: input.ActionsEnabled ?? true,
      okActions: input.OKActions ?? [],
      alarmActions: input.AlarmActions ?? [],
      insufficientDataActions: input.InsufficientDataActions ?? [],
      single,
      queries,
      returnId,
      period,
      evaluationPeriods: input.EvaluationPeriods,
      datapointsToAlarm: input.DatapointsToAlarm,
      threshold: input.Threshold,
      comparisonOperator: input.ComparisonOperator,
      treatMissingData: input.TreatMissingData ?? 'missing',
      tags: input.Tags ?? [],
      configUpdatedMs: now,
      // An update keeps the alarm's state (PutMetricAlarm API reference); a new alarm starts INSUFFICIENT_DATA.
      state: existing?.state ?? {
        value: 'INSUFFICIENT_DATA',
        reason: 'Unchecked: Initial alarm creation',
        reasonData: undefined,
        updatedMs: now,
      },
      transitionedMs: existing?.transitionedMs ?? now,
    });
    return {};
  }

  #describeAlarms(input: z.infer<typeof DescribeAlarmsInput>): unknown {
    if (input.AlarmNames !== undefined && input.AlarmNamePrefix !== undefined) {
      throw new EmulatorServiceError(
        'InvalidParameterCombinationException',
        'AlarmNames and AlarmNamePrefix cannot be specified together.',
      );
    }
    const names = input.AlarmNames ? new Set(input.AlarmNames) : undefined;
    const prefix = input.AlarmNamePrefix;
    const actionPrefix = input.ActionPrefix;
    const wantMetric = input.AlarmTypes === undefined || input.AlarmTypes.includes('MetricAlarm');
    const matching = (wantMetric ? [...this.#alarms.values()] : [])
      .filter((a) => !names || names.has(a.name))
      .filter((a) => prefix === undefined || a.name.startsWith(prefix))
      .filter((a) => input.StateValue === undefined || a.state.value === input.StateValue)
      .filter(
        (a) =>
          actionPrefix === undefined ||
          [...a.alarmActions, ...a.okActions, ...a.insufficientDataActions].some((x) => x.startsWith(actionPrefix)),
      )
      .sort((a, b) => compare(a.name, b.name));

    const offset = input.NextToken === undefined ? 0 : Number(input.NextToken);
    if (!Number.isInteger(offset) || offset < 0 || offset > matching.length) {
      throw new EmulatorServiceError('InvalidNextToken', 'The NextToken is not valid.');
    }
    const max = input.MaxRecords ?? 50;
    const page = matching.slice(offset, offset + max);
    const next = offset + page.length < matching.length ? String(offset + page.length) : undefined;
    return {
      MetricAlarms: page.map((a) => this.#describeAlarm(a)),
      CompositeAlarms: [],
      ...(next !== undefined ? { NextToken: next } : {}),
    };
  }

  #describeAlarm(a: Alarm): Record<string, unknown> {
    const out: Record<string, unknown> = {
      AlarmName: a.name,
      AlarmArn: a.arn,
      AlarmConfigurationUpdatedTimestamp: a.configUpdatedMs / 1000,
      ActionsEnabled: a.actionsEnabled,
      OKActions: [...a.okActions],
      AlarmActions: [...a.alarmActions],
      InsufficientDataActions: [...a.insufficientDataActions],
      StateValue: a.state.value,
      StateReason: a.state.reason,
      StateUpdatedTimestamp: a.state.updatedMs / 1000,
      EvaluationPeriods: a.evaluationPeriods,
      Threshold: a.threshold,
      ComparisonOperator: a.comparisonOperator,
      TreatMissingData: a.treatMissingData,
      StateTransitionedTimestamp: a.transitionedMs / 1000,
    };
    if (a.description !== undefined) out.AlarmDescription = a.description;
    if (a.state.reasonData !== undefined) out.StateReasonData = a.state.reasonData;
    if (a.datapointsToAlarm !== undefined) out.DatapointsToAlarm = a.datapointsToAlarm;
    if (a.single) {
      out.MetricName = a.single.metricName;
      out.Namespace = a.single.namespace;
      if (a.single.statistic !== undefined) out.Statistic = a.single.statistic;
      if (a.single.extendedStatistic !== undefined) out.ExtendedStatistic = a.single.extendedStatistic;
      out.Dimensions = a.single.dimensions.map((d) => ({ Name: d.Name, Value: d.Value }));
      out.Period = a.period;
      if (a.single.unit !== undefined) out.Unit = a.single.unit;
    } else {
      out.Metrics = a.queries.map(describeQuery);
    }
    return out;
  }

  #deleteAlarms(input: z.infer<typeof DeleteAlarmsInput>): Record<string, never> {
    const unknown = input.AlarmNames.filter((n) => !this.#alarms.has(n));
    if (unknown.length > 0) {
      // As CloudWatch: with any wrong name nothing is deleted.
      throw new EmulatorServiceError(
        'ResourceNotFound',
        `Alarm(s) not found: ${unknown.join(', ')}. No alarms were deleted.`,
      );
    }
    for (const n of input.AlarmNames) this.#alarms.delete(n);
    return {};
  }

  #getMetricData(input: z.infer<typeof GetMetricDataInput>): unknown {
    const startMs = Math.floor((input.StartTime * 1000) / MINUTE_MS) * MINUTE_MS;
    const endMs = input.EndTime * 1000;
    if (!(input.StartTime < input.EndTime)) {
      throw new EmulatorServiceError(
        'InvalidParameterValueException',
        'The parameter StartTime must be less than the parameter EndTime.',
      );
    }
    const queries = parseQueries(input.MetricDataQueries, 'MetricDataQueries');
    this.#checkQueryGraph(queries);
    const computed = this.#computeQueries(queries, startMs, endMs);
    const ascending = input.ScanBy === 'TimestampAscending';
    const results = queries
      .filter((q) => q.returnData)
      .map((q) => {
        const series = computed(q.id);
        const points: Array<{ t: number; v: number }> = [];
        series.values.forEach((v, k) => {
          const t = series.timestampsMs[k];
          if (v !== undefined && t !== undefined) points.push({ t, v });
        });
        if (!ascending) points.reverse();
        return {
          Id: q.id,
          Label: q.label ?? q.stat?.metricName ?? q.id,
          Timestamps: points.map((p) => p.t / 1000),
          Values: points.map((p) => p.v),
          StatusCode: 'Complete',
        };
      });
    return { MetricDataResults: results, Messages: [] };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Query evaluation
  // -------------------------------------------------------------------------------------------------------------

  /** Rejects unknown ids and cycles before anything is evaluated. */
  #checkQueryGraph(queries: readonly Query[]): void {
    const byId = new Map(queries.map((q) => [q.id, q]));
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (q: Query): void => {
      if (state.get(q.id) === 'done') return;
      if (state.get(q.id) === 'visiting') throw mathError(q, `circular reference through '${q.id}'`);
      state.set(q.id, 'visiting');
      if (q.expression) {
        for (const ref of referencedIds(q.expression.ast)) {
          const target = byId.get(ref);
          if (!target) throw mathError(q, `unknown query id '${ref}'`);
          visit(target);
        }
      }
      state.set(q.id, 'done');
    };
    for (const q of queries) visit(q);
  }

  /** Period (seconds) of a query: its MetricStat's, its own Period, or that of the first metric it references. */
  #periodOf(q: Query, byId: ReadonlyMap<string, Query>): number {
    if (q.stat) return q.stat.period;
    if (q.period !== undefined) return q.period;
    for (const ref of q.expression ? referencedIds(q.expression.ast) : []) {
      const target = byId.get(ref);
      if (target) return this.#periodOf(target, byId);
    }
    return 60;
  }

  /** Returns a memoised resolver: query id → its series on the grid [startMs, endMs) stepped by its period. */
  #computeQueries(queries: readonly Query[], startMs: number, endMs: number): (id: string) => GridSeries {
    const byId = new Map(queries.map((q) => [q.id, q]));
    const memo = new Map<string, GridSeries>();
    const grids = new Map<number, number[]>();
    const gridFor = (periodSec: number): number[] => {
      let grid = grids.get(periodSec);
      if (!grid) {
        const step = periodSec * 1000;
        const count = Math.max(0, Math.ceil((endMs - startMs) / step));
        if (count > MAX_DATAPOINTS) {
          throw new EmulatorServiceError(
            'InvalidParameterCombinationException',
            `The query would return ${count} datapoints for Period ${periodSec}; the limit is ${MAX_DATAPOINTS}.`,
          );
        }
        grid = Array.from({ length: count }, (_, k) => startMs + k * step);
        grids.set(periodSec, grid);
      }
      return grid;
    };
    const resolve = (id: string): GridSeries => {
      const cached = memo.get(id);
      if (cached) return cached;
      const q = byId.get(id);
      if (!q) throw new MetricMathError(`unknown query id '${id}'`);
      const period = this.#periodOf(q, byId);
      const grid = gridFor(period);
      let series: GridSeries;
      if (q.stat) {
        const stat = q.stat;
        series = {
          timestampsMs: grid,
          values: grid.map((t) => this.#aggregate(stat, t, t + period * 1000)?.value),
        };
      } else if (q.expression) {
        try {
          series = evaluateExpression(q.expression.ast, grid, (ref) => {
            const s = resolve(ref);
            if (s.timestampsMs !== grid) {
              throw new MetricMathError(`'${ref}' has a different Period than '${q.id}' (${period} s)`);
            }
            return s;
          });
        } catch (err) {
          if (err instanceof MetricMathError) throw mathError(q, err.message);
          throw err;
        }
      } else {
        throw new Error(`query ${id} has neither MetricStat nor Expression`);
      }
      memo.set(id, series);
      return series;
    };
    return resolve;
  }

  /** Aggregates the samples of one metric in [fromMs, toMs); `undefined` when there are none. */
  #aggregate(
    stat: NonNullable<Query['stat']>,
    fromMs: number,
    toMs: number,
  ): { value: number; count: number } | undefined {
    const key = seriesKey(
      stat.namespace,
      stat.metricName,
      Object.fromEntries(stat.dimensions.map((d) => [d.Name, d.Value])),
    );
    const samples = this.#samples(key);
    const values: number[] = [];
    for (let k = lowerBound(samples, fromMs); k < samples.length; k++) {
      const s = samples[k];
      if (!s || s.t >= toMs) break;
      if (stat.unit === undefined || stat.unit === s.unit) values.push(s.v);
    }
    if (values.length === 0) return undefined;
    return { value: computeStat(stat.stat, values), count: values.length };
  }

  #samples(key: string): readonly Sample[] {
    const samples = this.#series.get(key) ?? [];
    if (this.#unsorted.delete(key)) samples.sort((a, b) => a.t - b.t);
    return samples;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Alarm evaluation
  // -------------------------------------------------------------------------------------------------------------

  /** The alarm's next state at `nowMs`, or `undefined` to keep the current one (TreatMissingData `ignore`). */
  #evaluate(alarm: Alarm, nowMs: number): AlarmState | undefined {
    const n = alarm.evaluationPeriods;
    const m = alarm.datapointsToAlarm ?? n;
    const periodMs = alarm.period * 1000;
    const lookback = alarm.single ? 0 : ALARM_MATH_LOOKBACK_PERIODS;
    const windowStart = nowMs - n * periodMs;
    const series = this.#computeQueries(alarm.queries, windowStart - lookback * periodMs, nowMs)(alarm.returnId);

    // Newest first: k = 0 is [now − Period, now).
    const evaluated: Array<{ t: number; value: number | undefined; count: number | undefined }> = [];
    for (let k = 0; k < n; k++) {
      const t = nowMs - (k + 1) * periodMs;
      const idx = series.timestampsMs.indexOf(t);
      const value = idx >= 0 ? series.values[idx] : undefined;
      const stat = alarm.single ? alarm.queries[0]?.stat : undefined;
      const count = stat && value !== undefined ? this.#aggregate(stat, t, t + periodMs)?.count : undefined;
      evaluated.push({ t, value, count });
    }

    const present = evaluated.filter(
      (d): d is { t: number; value: number; count: number | undefined } => d.value !== undefined,
    );
    const breaches = (v: number): boolean => compareToThreshold(alarm.comparisonOperator, v, alarm.threshold);
    const missingCount = n - present.length;
    const reasonData = this.#reasonData(alarm, nowMs, evaluated, present);
    const state = (value: AlarmStateValue, reason: string): AlarmState => ({
      value,
      reason,
      reasonData,
      updatedMs: nowMs,
    });

    if (present.length === 0) {
      switch (alarm.treatMissingData) {
        case 'ignore':
          return undefined;
        case 'missing':
          return state(
            'INSUFFICIENT_DATA',
            `Insufficient Data: ${n} ${n === 1 ? 'datapoint was' : 'datapoints were'} unknown.`,
          );
        case 'breaching':
        case 'notBreaching': {
          const treatedAs = alarm.treatMissingData === 'breaching' ? 'Breaching' : 'NonBreaching';
          return state(
            alarm.treatMissingData === 'breaching' ? 'ALARM' : 'OK',
            `Threshold Crossed: no datapoints were received for ${plural(n, 'period')} and ${plural(n, 'missing datapoint')} ${n === 1 ? 'was' : 'were'} treated as [${treatedAs}].`,
          );
        }
      }
    }

    let breachingCount = present.filter((d) => breaches(d.value)).length;
    let required = m;
    switch (alarm.treatMissingData) {
      case 'breaching':
        breachingCount += missingCount;
        break;
      case 'notBreaching':
        break;
      case 'missing':
        // Fewer datapoints than DatapointsToAlarm: CloudWatch decides on the ones present.
        required = Math.min(m, present.length);
        break;
      case 'ignore':
        if (present.length < m) return undefined;
        break;
    }
    const goingToAlarm = breachingCount >= required;
    const op = comparisonPhrase(alarm.comparisonOperator);
    const threshold = javaDouble(alarm.threshold);
    if (goingToAlarm) {
      const listed = present.filter((d) => breaches(d.value));
      return state(
        'ALARM',
        `Threshold Crossed: ${breachingCount} out of the last ${n} datapoints ${datapointList(listed)} ${breachingCount === 1 ? 'was' : 'were'} ${op} the threshold (${threshold}) (minimum ${plural(m, 'datapoint')} for OK -> ALARM transition).`,
      );
    }
    const listed = present.filter((d) => !breaches(d.value));
    const goodCount = alarm.treatMissingData === 'notBreaching' ? listed.length + missingCount : listed.length;
    const minimumOk = n - m + 1;
    return state(
      'OK',
      `Threshold Crossed: ${goodCount} out of the last ${n} datapoints ${datapointList(listed)} ${goodCount === 1 ? 'was' : 'were'} not ${op} the threshold (${threshold}) (minimum ${plural(minimumOk, 'datapoint')} for ALARM -> OK transition).`,
    );
  }

  /** StateReasonData JSON, shaped like CloudWatch's (version 1.0). */
  #reasonData(
    alarm: Alarm,
    nowMs: number,
    evaluated: ReadonlyArray<{ t: number; value: number | undefined; count: number | undefined }>,
    present: ReadonlyArray<{ t: number; value: number }>,
  ): string {
    const oldest = present[present.length - 1];
    const data: Record<string, unknown> = { version: '1.0', queryDate: awsTimestamp(nowMs) };
    if (oldest) data.startDate = awsTimestamp(oldest.t);
    const stat = alarm.single ? (alarm.single.statistic ?? alarm.single.extendedStatistic) : undefined;
    if (stat !== undefined) data.statistic = stat;
    data.period = alarm.period;
    data.recentDatapoints = [...present].reverse().map((d) => d.value);
    data.threshold = alarm.threshold;
    data.evaluatedDatapoints = evaluated.map((d) => ({
      timestamp: awsTimestamp(d.t),
      ...(d.count !== undefined ? { sampleCount: d.count } : {}),
      ...(d.value !== undefined ? { value: d.value } : {}),
    }));
    return JSON.stringify(data);
  }

  #stateChangeEvent(alarm: Alarm, previous: AlarmState, nowMs: number): AlarmStateChangeEvent {
    this.#eventCounter += 1;
    const toWire = (s: AlarmState) => ({
      value: s.value,
      reason: s.reason,
      ...(s.reasonData !== undefined ? { reasonData: s.reasonData } : {}),
      timestamp: awsTimestamp(s.updatedMs),
    });
    return AlarmStateChangeEvent.parse({
      version: '0',
      id: `00000000-0000-4000-8000-${this.#eventCounter.toString(16).padStart(12, '0')}`,
      'detail-type': ALARM_STATE_CHANGE_DETAIL_TYPE,
      source: 'aws.cloudwatch',
      account: this.#accountId,
      time: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.#region,
      resources: [alarm.arn],
      detail: {
        alarmName: alarm.name,
        configuration: {
          ...(alarm.description !== undefined ? { description: alarm.description } : {}),
          metrics: eventMetrics(alarm),
        },
        previousState: toWire(previous),
        state: toWire(alarm.state),
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

/** Parses with zod; a failure becomes CloudWatch's "N validation errors detected: Value … at '…' failed to …". */
function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  const parts = result.error.issues.map(describeIssue);
  throw new EmulatorServiceError(
    'ValidationException',
    `${parts.length} validation error${parts.length === 1 ? '' : 's'} detected: ${parts.join('; ')}`,
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path
    .map((p) => (typeof p === 'number' ? `${p + 1}.member` : String(p).charAt(0).toLowerCase() + String(p).slice(1)))
    .join('.');
  const input: unknown = issue.input;
  const shown =
    input === undefined || input === null
      ? 'null'
      : `'${typeof input === 'object' ? JSON.stringify(input) : String(input)}'`;
  let constraint: string;
  switch (issue.code) {
    case 'invalid_type':
      constraint = input === undefined ? 'Member must not be null' : `Member must be of type ${issue.expected}`;
      break;
    case 'invalid_value':
      constraint = `Member must satisfy enum value set: [${issue.values.map(String).join(', ')}]`;
      break;
    case 'too_small':
      constraint =
        issue.origin === 'number'
          ? `Member must have value greater than or equal to ${String(issue.minimum)}`
          : `Member must have length greater than or equal to ${String(issue.minimum)}`;
      break;
    case 'too_big':
      constraint =
        issue.origin === 'number'
          ? `Member must have value less than or equal to ${String(issue.maximum)}`
          : `Member must have length less than or equal to ${String(issue.maximum)}`;
      break;
    default:
      constraint = issue.message;
  }
  return `Value ${shown} at '${path}' failed to satisfy constraint: ${constraint}`;
}

/** Validates MetricDataQuery structures (PutMetricAlarm `Metrics`, GetMetricData `MetricDataQueries`). */
function parseQueries(raw: readonly MetricDataQueryInput[], field: string): Query[] {
  const seen = new Set<string>();
  return raw.map((q, index) => {
    const where = `${field}.member.${index + 1}`;
    if (!/^[a-z][a-zA-Z0-9_]*$/.test(q.Id)) {
      throw new EmulatorServiceError(
        'ValidationException',
        `Invalid metric id '${q.Id}' at ${where}.Id: it must start with a lowercase letter and contain only letters, digits and underscores.`,
      );
    }
    if (seen.has(q.Id))
      throw new EmulatorServiceError('ValidationException', `The metric id '${q.Id}' is used more than once.`);
    seen.add(q.Id);
    if (q.MetricStat !== undefined && q.Expression !== undefined) {
      throw new EmulatorServiceError(
        'ValidationException',
        'The parameters MetricDataQuery Expression and MetricStat are mutually exclusive and you have specified both.',
      );
    }
    const base = { id: q.Id, label: q.Label, returnData: q.ReturnData ?? true, period: q.Period };
    if (q.MetricStat !== undefined) {
      const ms = q.MetricStat;
      if (ms.Metric.Namespace === undefined || ms.Metric.MetricName === undefined) {
        throw new EmulatorServiceError(
          'MissingRequiredParameterException',
          `${where}.MetricStat.Metric needs both Namespace and MetricName.`,
        );
      }
      if (!isSupportedStat(ms.Stat)) {
        throw new EmulatorServiceError(
          'InvalidParameterValueException',
          `The value ${ms.Stat} for parameter ${where}.MetricStat.Stat is not supported by the emulator (use ${STATISTICS.join(', ')} or pNN).`,
        );
      }
      checkPeriod(ms.Period, `${where}.MetricStat.Period`, true);
      return {
        ...base,
        stat: {
          namespace: ms.Metric.Namespace,
          metricName: ms.Metric.MetricName,
          dimensions: ms.Metric.Dimensions ?? [],
          period: ms.Period,
          stat: ms.Stat,
          unit: ms.Unit,
        },
      };
    }
    if (q.Expression !== undefined) {
      try {
        return { ...base, expression: { text: q.Expression, ast: parseExpression(q.Expression) } };
      } catch (err) {
        if (err instanceof MetricMathError) {
          throw new EmulatorServiceError(
            'ValidationException',
            `Error in expression '${q.Id}' (${q.Expression}): ${err.message}.`,
          );
        }
        throw err;
      }
    }
    throw new EmulatorServiceError(
      'MissingRequiredParameterException',
      `${where} must specify either Expression or MetricStat.`,
    );
  });
}

function mathError(q: Query, message: string): EmulatorServiceError {
  return new EmulatorServiceError(
    'ValidationException',
    `Error in expression '${q.id}'${q.expression ? ` (${q.expression.text})` : ''}: ${message}.`,
  );
}

/** Alarm periods: 10, 20, 30 or a multiple of 60 s; GetMetricData also allows 1 and 5 (high resolution). */
function checkPeriod(period: number, field: string, allowHighResolution: boolean): void {
  const ok = period % 60 === 0 || [10, 20, 30].includes(period) || (allowHighResolution && [1, 5].includes(period));
  if (!ok) {
    throw new EmulatorServiceError(
      'InvalidParameterValueException',
      `The parameter ${field} must be ${allowHighResolution ? '1, 5, ' : ''}10, 20, 30 or a multiple of 60 (got ${period}).`,
    );
  }
}

function describeQuery(q: Query): Record<string, unknown> {
  const out: Record<string, unknown> = { Id: q.id };
  if (q.stat) {
    out.MetricStat = {
      Metric: {
        Namespace: q.stat.namespace,
        MetricName: q.stat.metricName,
        Dimensions: q.stat.dimensions.map((d) => ({ Name: d.Name, Value: d.Value })),
      },
      Period: q.stat.period,
      Stat: q.stat.stat,
      ...(q.stat.unit !== undefined ? { Unit: q.stat.unit } : {}),
    };
  }
  if (q.expression) out.Expression = q.expression.text;
  if (q.label !== undefined) out.Label = q.label;
  out.ReturnData = q.returnData;
  if (q.period !== undefined) out.Period = q.period;
  return out;
}

/** `detail.configuration.metrics` as CloudWatch writes it (camelCase, dimensions as a map). */
function eventMetrics(alarm: Alarm): AlarmEventMetric[] {
  const metricStat = (q: Query) =>
    q.stat
      ? {
          metricStat: {
            metric: {
              namespace: q.stat.namespace,
              name: q.stat.metricName,
              dimensions: Object.fromEntries(q.stat.dimensions.map((d) => [d.Name, d.Value])),
            },
            period: q.stat.period,
            stat: q.stat.stat,
          },
        }
      : {};
  if (alarm.single) {
    const [q] = alarm.queries;
    // Single-metric alarms get a generated id in AWS's events; here a stable UUID-shaped hash of the alarm name.
    return q ? [{ id: uuidFrom(alarm.name), ...metricStat(q), returnData: true }] : [];
  }
  return alarm.queries.map((q) => ({
    id: q.id,
    ...metricStat(q),
    ...(q.expression ? { expression: q.expression.text } : {}),
    ...(q.label !== undefined ? { label: q.label } : {}),
    returnData: q.returnData,
  }));
}

function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function seriesKey(namespace: string, metricName: string, dimensions: Readonly<Record<string, string>>): string {
  const dims = Object.entries(dimensions).sort(([a], [b]) => compare(a, b));
  return JSON.stringify([namespace, metricName, dims]);
}

function lowerBound(samples: readonly Sample[], t: number): number {
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((samples[mid]?.t ?? Number.POSITIVE_INFINITY) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function isPercentile(stat: string): boolean {
  return /^p(\d{1,2}(\.\d{1,2})?|100)$/.test(stat);
}

function isSupportedStat(stat: string): boolean {
  return (STATISTICS as readonly string[]).includes(stat) || isPercentile(stat);
}

/** Statistic over one period's samples (non-empty). Percentiles use the nearest-rank method. */
function computeStat(stat: string, values: readonly number[]): number {
  switch (stat) {
    case 'Maximum':
      return Math.max(...values);
    case 'Minimum':
      return Math.min(...values);
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'SampleCount':
      return values.length;
    default: {
      const p = Number(stat.slice(1));
      const sorted = [...values].sort((a, b) => a - b);
      const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
      return sorted[rank - 1] ?? Number.NaN;
    }
  }
}

function compareToThreshold(op: ComparisonOperator, v: number, threshold: number): boolean {
  switch (op) {
    case 'GreaterThanThreshold':
      return v > threshold;
    case 'GreaterThanOrEqualToThreshold':
      return v >= threshold;
    case 'LessThanThreshold':
      return v < threshold;
    case 'LessThanOrEqualToThreshold':
      return v <= threshold;
  }
}

function comparisonPhrase(op: ComparisonOperator): string {
  switch (op) {
    case 'GreaterThanThreshold':
      return 'greater than';
    case 'GreaterThanOrEqualToThreshold':
      return 'greater than or equal to';
    case 'LessThanThreshold':
      return 'less than';
    case 'LessThanOrEqualToThreshold':
      return 'less than or equal to';
  }
}

/** `[8.5 (14/07/21 23:18:00), 9.0 (14/07/21 23:17:00)]` — values newest first, as in CloudWatch's StateReason. */
function datapointList(points: ReadonlyArray<{ t: number; value: number }>): string {
  return `[${points.map((p) => `${javaDouble(p.value)} (${reasonTimestamp(p.t)})`).join(', ')}]`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A number as Java's Double.toString prints it (CloudWatch's reasons do): `0.0`, `7.5`, `1.0E7`. */
function javaDouble(v: number): string {
  const abs = Math.abs(v);
  if (v !== 0 && (abs >= 1e7 || abs < 1e-3)) {
    const [mantissa = '0', exponent = '0'] = v.toExponential().split('e');
    return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
  }
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

/** `dd/MM/yy HH:mm:ss` in UTC, as in StateReason. */
function reasonTimestamp(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** `2026-03-02T14:07:00.000+0000`, CloudWatch's timestamp format in reasonData and event states. */
function awsTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

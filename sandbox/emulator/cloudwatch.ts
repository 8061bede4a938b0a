import { createHash } from 'node:crypto';
import type { z } from 'zod';
import {
  type EvaluatedDatapoint,
  evaluateRange,
  evaluationRangePeriods,
  type TreatMissingData,
} from '#sandbox/emulator/cloudwatch-alarms.ts';
import { AlarmHistory, historyAlarmConfig, historyState } from '#sandbox/emulator/cloudwatch-history.ts';
import {
  awsTimestamp,
  compareToThreshold,
  comparisonPhrase,
  datapointList,
  javaDouble,
  plural,
} from '#sandbox/emulator/cloudwatch-reasons.ts';
import { isPercentile, MetricStore, toStoredSample } from '#sandbox/emulator/cloudwatch-store.ts';
import {
  type ComparisonOperator,
  checkPeriod,
  DeleteAlarmsInput,
  DescribeAlarmHistoryInput,
  DescribeAlarmsInput,
  decodeNextToken,
  describeQuery,
  encodeNextToken,
  GetMetricDataInput,
  ListTagsForResourceInput,
  type MetricDatumInput,
  mathError,
  PutMetricAlarmInput,
  PutMetricDataInput,
  parseInput,
  parseQueries,
  type Query,
  requestFingerprint,
  SetAlarmStateInput,
  TagResourceInput,
  UntagResourceInput,
} from '#sandbox/emulator/cloudwatch-wire.ts';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import { evaluateExpression, type GridSeries, MetricMathError, referencedIds } from '#sandbox/emulator/metric-math.ts';
import type { Clock } from '#shared/clock.ts';
import {
  ALARM_STATE_CHANGE_DETAIL_TYPE,
  type AlarmEventMetric,
  AlarmStateChangeEvent,
  type AlarmStateValue,
} from '#shared/events/alarm-state-change.ts';

// ---------------------------------------------------------------------------------------------------------------
// Internal model
// ---------------------------------------------------------------------------------------------------------------

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
  /** Key → value. Set at creation, then changed only by TagResource / UntagResource. */
  readonly tags: Map<string, string>;
  /** Epoch ms. */
  readonly configUpdatedMs: number;
  state: AlarmState;
  /** Epoch ms of the last change of `state.value`. */
  transitionedMs: number;
}

/**
 * Periods before the evaluation range that a metric-math alarm also queries, so DIFF/RATE have a previous value for
 * the oldest period of the range. ASSUMPTION: how far back CloudWatch reads for an expression's first datapoint is not
 * documented; 5 periods lets a DIFF alarm see a counter's previous value across a few missing minutes.
 */
const ALARM_MATH_LOOKBACK_PERIODS = 5;
/**
 * Datapoints one GetMetricData request may return, and the default of MaxDatapoints (API model, GetMetricData: "a
 * total of as many as 100,800 data points"; MaxDatapoints: "If you omit this, the default of 100,800 is used").
 */
const MAX_DATAPOINTS = 100_800;
const MINUTE_MS = 60_000;

// ---------------------------------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link CloudWatchEmulator}. */
export interface CloudWatchEmulatorOptions {
  /**
   * Source of "now" for API calls: AlarmConfigurationUpdatedTimestamp, the initial StateUpdatedTimestamp, SetAlarmState,
   * PutMetricData's default Timestamp and its accepted time window.
   */
  readonly clock: Clock;
  /** Region in alarm ARNs and events, e.g. `eu-west-1`. */
  readonly region: string;
  /** 12-digit account id in alarm ARNs and events. */
  readonly accountId: string;
  /**
   * Receives the "CloudWatch Alarm State Change" event of a SetAlarmState call as soon as it happens. Without it, such
   * events are returned, first, by the next {@link CloudWatchEmulator.evaluateAlarms} call.
   */
  readonly onAlarmEvent?: (event: AlarmStateChangeEvent) => void;
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
  /** The alarm's tags, key → value (PutMetricAlarm Tags at creation, TagResource, UntagResource). */
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * In-memory CloudWatch for the local sandbox: stores metric datapoints, serves the awsJson1_0 operations
 * PutMetricAlarm, DescribeAlarms, DeleteAlarms, GetMetricData, PutMetricData, SetAlarmState and DescribeAlarmHistory,
 * and evaluates metric alarms over their last complete periods, producing the "CloudWatch Alarm State Change"
 * EventBridge events real CloudWatch would put on the default bus.
 *
 * Nothing here drops or thins data: a period is missing only when no datapoint was stored for it.
 * Every time comes from the injected clock or from the `nowMs` given to {@link evaluateAlarms}; never the wall clock.
 */
export class CloudWatchEmulator {
  readonly #clock: Clock;
  readonly #region: string;
  readonly #accountId: string;
  readonly #onAlarmEvent: ((event: AlarmStateChangeEvent) => void) | undefined;
  readonly #store = new MetricStore();
  readonly #alarms = new Map<string, Alarm>();
  readonly #history = new AlarmHistory();
  /** SetAlarmState events waiting for the next evaluateAlarms call (when no `onAlarmEvent` listener is given). */
  readonly #pendingEvents: AlarmStateChangeEvent[] = [];
  #eventCounter = 0;

  constructor(opts: CloudWatchEmulatorOptions) {
    this.#clock = opts.clock;
    this.#region = opts.region;
    this.#accountId = opts.accountId;
    this.#onAlarmEvent = opts.onAlarmEvent;
  }

  /**
   * Stores one datapoint, filed under `timestampMs` as given. Several datapoints for the same metric and period are
   * kept as separate samples, as PutMetricData would (SampleCount counts them, Sum adds them).
   * @throws TypeError when `timestampMs` or `value` is not a finite number.
   */
  putDatapoint(p: EmulatorDatapoint): void {
    if (!Number.isFinite(p.timestampMs) || !Number.isFinite(p.value)) {
      throw new TypeError(`putDatapoint: timestampMs and value must be finite numbers (${p.metricName})`);
    }
    this.#store.put(
      { namespace: p.namespace, metricName: p.metricName, dimensions: p.dimensions },
      {
        t: p.timestampMs,
        unit: p.unit ?? 'None',
        sampleCount: 1,
        sum: p.value,
        minimum: p.value,
        maximum: p.value,
        values: [[p.value, 1]],
      },
    );
  }

  /**
   * Runs one awsJson1_0 operation (`X-Amz-Target: GraniteServiceVersion20100801.<operation>`) and returns its JSON
   * output object. Timestamps in input and output are epoch seconds, as the query-compatible JSON protocol sends them.
   * @throws EmulatorServiceError with `type` = the exception name from the CloudWatch API model and `status` = its
   *   HTTP status there (ValidationException, InvalidParameterValueException, MissingRequiredParameterException,
   *   InvalidParameterCombinationException, InvalidFormatFault, InvalidNextToken: 400; ResourceNotFound: 404), or
   *   UnknownOperationException.
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
      case 'PutMetricData':
        return this.#putMetricData(parseInput(PutMetricDataInput, input));
      case 'SetAlarmState':
        return this.#setAlarmState(parseInput(SetAlarmStateInput, input));
      case 'DescribeAlarmHistory':
        return this.#history.describe(parseInput(DescribeAlarmHistoryInput, input));
      case 'ListTagsForResource': {
        const alarm = this.#alarmByArn(parseInput(ListTagsForResourceInput, input).ResourceARN);
        return { Tags: [...alarm.tags].map(([Key, Value]) => ({ Key, Value })) };
      }
      case 'TagResource': {
        const { ResourceARN, Tags } = parseInput(TagResourceInput, input);
        const alarm = this.#alarmByArn(ResourceARN);
        // "If you specify a new tag key for the alarm, this tag is appended to the list of tags associated with the
        // alarm. If you specify a tag key that is already associated with the alarm, the new tag value that you
        // specify replaces the previous value for that tag." (TagResource API reference)
        for (const tag of Tags) alarm.tags.set(tag.Key, tag.Value);
        return {};
      }
      case 'UntagResource': {
        const { ResourceARN, TagKeys } = parseInput(UntagResourceInput, input);
        const alarm = this.#alarmByArn(ResourceARN);
        for (const key of TagKeys) alarm.tags.delete(key);
        return {};
      }
      default:
        throw new EmulatorServiceError(
          'UnknownOperationException',
          `The CloudWatch emulator does not implement ${operation} (it serves PutMetricAlarm, DescribeAlarms, DeleteAlarms, GetMetricData, PutMetricData, SetAlarmState, DescribeAlarmHistory, ListTagsForResource, TagResource, UntagResource).`,
        );
    }
  }

  /**
   * Evaluates every alarm at `nowMs` (epoch ms, any instant). An alarm with Period P looks at its evaluation range: the
   * last complete periods, those that ended at or before `nowMs` (period k covers [E − (k+1)·P, E − k·P) with
   * E = `nowMs` rounded down to a multiple of P), on the datapoints stored at this moment. Returns the events of
   * SetAlarmState calls not yet delivered, then one event per alarm whose state value changed, in alarm-name order.
   * Each event passes `AlarmStateChangeEvent.parse`; its `time`, the new state's `timestamp` and StateReasonData's
   * `queryDate` are `nowMs`. Every change is also recorded as a StateUpdate history item.
   * @throws TypeError when `nowMs` is not a finite number.
   */
  evaluateAlarms(nowMs: number): AlarmStateChangeEvent[] {
    if (!Number.isFinite(nowMs)) throw new TypeError(`evaluateAlarms: nowMs must be a finite number (got ${nowMs})`);
    const events = this.#pendingEvents.splice(0);
    for (const alarm of [...this.#alarms.values()].sort((a, b) => compare(a.name, b.name))) {
      const next = this.#evaluate(alarm, nowMs);
      if (!next || next.value === alarm.state.value) continue;
      events.push(this.#transition(alarm, next, nowMs));
    }
    return events;
  }

  /** Current alarms in name order: name, StateValue, StateReason and tags. */
  alarms(): ReadonlyArray<EmulatorAlarmSummary> {
    return [...this.#alarms.values()]
      .sort((a, b) => compare(a.name, b.name))
      .map((a) => ({
        alarmName: a.name,
        stateValue: a.state.value,
        stateReason: a.state.reason,
        tags: Object.fromEntries(a.tags),
      }));
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

    // PutMetricAlarm API reference, Period: "Period multiplied by EvaluationPeriods can't be more than 604,800 seconds.
    // For alarms with a period of less than one hour (3,600 seconds), the total evaluation period can't be longer than
    // one day (86,400 seconds)." https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
    // ASSUMPTION: refused as ValidationException (the reference does not name the error).
    const totalSeconds = period * input.EvaluationPeriods;
    const limitSeconds = period < 3600 ? 86_400 : 604_800;
    if (totalSeconds > limitSeconds) {
      throw new EmulatorServiceError(
        'ValidationException',
        `Period × EvaluationPeriods is ${totalSeconds} s; it must not exceed ${limitSeconds} s for a Period of ${period} s (lower EvaluationPeriods or use a longer Period).`,
      );
    }

    const now = this.#clock.now();
    const existing = this.#alarms.get(input.AlarmName);
    const alarm: Alarm = {
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
      // "If you are using this operation to update an existing alarm, any tags you specify in this parameter are
      // ignored. To change the tags of an existing alarm, use TagResource or UntagResource." (PutMetricAlarm, Tags)
      tags: existing ? existing.tags : new Map((input.Tags ?? []).map((t) => [t.Key, t.Value])),
      configUpdatedMs: now,
      // An update keeps the alarm's state (PutMetricAlarm API reference); a new alarm starts INSUFFICIENT_DATA.
      state: existing?.state ?? {
        value: 'INSUFFICIENT_DATA',
        reason: 'Unchecked: Initial alarm creation',
        reasonData: undefined,
        updatedMs: now,
      },
      transitionedMs: existing?.transitionedMs ?? now,
    };
    this.#alarms.set(input.AlarmName, alarm);
    // Every PutMetricAlarm is a ConfigurationUpdate history item: `Alarm "name" created` with HistoryData
    // {"version":"1.0","type":"Create","createdAlarm":{...}} (shape of CloudWatch's DescribeAlarmHistory output).
    // ASSUMPTION: an update is worded `Alarm "name" updated` with {"type":"Update","updatedAlarm":{...}}, by analogy.
    const config = historyAlarmConfig(this.#describeAlarm(alarm));
    this.#history.record(
      alarm.name,
      now,
      'ConfigurationUpdate',
      `Alarm "${alarm.name}" ${existing ? 'updated' : 'created'}`,
      existing
        ? { version: '1.0', type: 'Update', updatedAlarm: config }
        : { version: '1.0', type: 'Create', createdAlarm: config },
    );
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

  /**
   * Deletes the named alarms that exist. DeleteAlarms API reference: "If you specify any incorrect alarm names, the
   * alarms you specify with correct names are still deleted." https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DeleteAlarms.html
   * ASSUMPTION: unknown names raise no error at all (the reference names no case in which ResourceNotFound is raised).
   * History is kept: "CloudWatch retains the history of an alarm even if you delete the alarm" (DescribeAlarmHistory
   * API reference). ASSUMPTION: no history item is written for a deletion (no documented shape for one).
   */
  /**
   * The alarm an ARN names. The ARN format of an alarm is `arn:aws:cloudwatch:Region:account-id:alarm:alarm-name`
   * (TagResourceInput.ResourceARN in the model); alarms are the only taggable CloudWatch resources the emulator holds.
   * @throws EmulatorServiceError InvalidParameterValueException (400) for an ARN that is not a CloudWatch alarm ARN of
   *   this account and Region; ResourceNotFoundException (404) when no such alarm exists. ASSUMPTION: the split
   *   between the two errors (the API reference names both, not which case gives which).
   */
  #alarmByArn(arn: string): Alarm {
    const prefix = `arn:aws:cloudwatch:${this.#region}:${this.#accountId}:alarm:`;
    if (!arn.startsWith(prefix)) {
      throw new EmulatorServiceError(
        'InvalidParameterValueException',
        `Invalid value for ResourceARN: ${arn} is not an alarm ARN of account ${this.#accountId} in ${this.#region} (${prefix}<alarm name>)`,
      );
    }
    const alarm = this.#alarms.get(arn.slice(prefix.length));
    if (!alarm) throw new EmulatorServiceError('ResourceNotFoundException', `Alarm ${arn} does not exist.`, 404);
    return alarm;
  }

  #deleteAlarms(input: z.infer<typeof DeleteAlarmsInput>): Record<string, never> {
    for (const n of input.AlarmNames) this.#alarms.delete(n);
    return {};
  }

  /**
   * GetMetricData (API reference: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
   * - StartTime is inclusive and rounded down to the minute ("Start time less than 15 days ago - Round down to the
   *   nearest whole minute"), or to the period for periods under a minute; EndTime is exclusive.
   * - ScanBy defaults to TimestampDescending ("If you omit this parameter, the default of TimestampDescending is used").
   * - MaxDatapoints (default 100,800) bounds the datapoints of one answer; when more remain, the answer carries a
   *   NextToken and the results cut short say StatusCode `PartialData` ("PartialData means that an incomplete set of
   *   data points were returned. You can use the NextToken value that was returned and repeat your request").
   * ASSUMPTIONS (the order CloudWatch fills a page in is not documented): a page takes datapoints result after result,
   *   in request order, each in ScanBy order; every page lists every returned query, a query already finished with empty
   *   Timestamps/Values and StatusCode `Complete`. The API reference's "NextToken is not returned if you are performing
   *   a math expression" is not modelled: expressions page like metrics, so MaxDatapoints is always honoured.
   *   A NextToken is bound to the request it came from; with other queries, times or ScanBy it is InvalidNextToken.
   */
  #getMetricData(input: z.infer<typeof GetMetricDataInput>): unknown {
    const startMs = input.StartTime * 1000;
    const endMs = input.EndTime * 1000;
    if (!(input.StartTime < input.EndTime)) {
      throw new EmulatorServiceError(
        'InvalidParameterValueException',
        'The parameter StartTime must be less than the parameter EndTime.',
      );
    }
    const queries = parseQueries(input.MetricDataQueries, 'MetricDataQueries');
    this.#checkQueryGraph(queries);
    const fingerprint = requestFingerprint(input);
    const offset = input.NextToken === undefined ? 0 : decodeNextToken(input.NextToken, fingerprint);
    const computed = this.#computeQueries(queries, startMs, endMs);
    const ascending = input.ScanBy === 'TimestampAscending';
    const all = queries
      .filter((q) => q.returnData)
      .map((q) => {
        const series = computed(q.id);
        const points: Array<{ t: number; v: number }> = [];
        series.values.forEach((v, k) => {
          const t = series.timestampsMs[k];
          if (v !== undefined && t !== undefined) points.push({ t, v });
        });
        if (!ascending) points.reverse();
        return { q, points };
      });
    const total = all.reduce((a, r) => a + r.points.length, 0);
    if (offset > total) throw new EmulatorServiceError('InvalidNextToken', 'The NextToken is not valid.');
    const pageEnd = Math.min(total, offset + (input.MaxDatapoints ?? MAX_DATAPOINTS));
    let before = 0;
    const results = all.map(({ q, points }) => {
      const from = Math.max(0, offset - before);
      const to = Math.max(0, Math.min(points.length, pageEnd - before));
      before += points.length;
      const page = points.slice(from, Math.max(from, to));
      return {
        Id: q.id,
        Label: q.label ?? q.stat?.metricName ?? q.id,
        Timestamps: page.map((p) => p.t / 1000),
        Values: page.map((p) => p.v),
        StatusCode: to >= points.length ? 'Complete' : 'PartialData',
      };
    });
    return {
      MetricDataResults: results,
      Messages: [],
      ...(pageEnd < total ? { NextToken: encodeNextToken(pageEnd, fingerprint) } : {}),
    };
  }

  /**
   * PutMetricData (API reference: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
   * and MetricDatum: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html).
   * The whole request is validated before anything is stored. Rules:
   * - "no more than 1000 different metrics (across both the MetricData and EntityMetricData properties)"; "up to two
   *   EntityMetricData objects";
   * - a datum gives its value(s) as Value, StatisticValues, or Values (+ Counts): exactly one of them (ASSUMPTION: the
   *   reference describes them as alternatives; two together are InvalidParameterCombination, none MissingParameter);
   * - "up to 150 unique values" in Values; Counts "must include the same amount of values as the Values array", each
   *   count defaulting to 1;
   * - "Values must be in the range of -2^360 to 2^360. In addition, special values (for example, NaN, +Infinity,
   *   -Infinity) are not supported";
   * - StorageResolution: "Valid values are 1 and 60", default 60; 60 is stored "at 1-minute resolution" (the timestamp
   *   is filed under its minute), 1 "with sub-minute resolution down to one second";
   * - Timestamp defaults to the time received; accepted "as much as two weeks before the current date, and as much as
   *   2 hours after the current day and time".
   * ASSUMPTIONS: accepted data is visible to GetMetricData and alarms at once (the reference's availability delays are
   * for timestamps 3 hours old or more); a namespace starting with `AWS/` is accepted (the reference says "should not");
   * EntityMetricData's Entity is not validated or stored (the emulator has no entity view).
   */
  #putMetricData(input: z.infer<typeof PutMetricDataInput>): Record<string, never> {
    const entityData = input.EntityMetricData ?? [];
    if (entityData.length > 2) {
      throw new EmulatorServiceError(
        'InvalidParameterValueException',
        `The collection EntityMetricData must not have more than 2 members (got ${entityData.length}).`,
      );
    }
    const data: Array<{ datum: MetricDatumInput; field: string }> = [
      ...(input.MetricData ?? []).map((datum, i) => ({ datum, field: `MetricData.member.${i + 1}` })),
      ...entityData.flatMap((e, j) =>
        (e.MetricData ?? []).map((datum, i) => ({
          datum,
          field: `EntityMetricData.member.${j + 1}.MetricData.member.${i + 1}`,
        })),
      ),
    ];
    if (data.length === 0) {
      throw new EmulatorServiceError(
        'MissingRequiredParameterException',
        'The request must include MetricData or EntityMetricData with at least one metric datum.',
      );
    }
    if (data.length > 1000) {
      throw new EmulatorServiceError(
        'InvalidParameterValueException',
        `A PutMetricData request can hold at most 1000 metrics across MetricData and EntityMetricData (got ${data.length}).`,
      );
    }
    const now = this.#clock.now();
    const samples = data.map(({ datum, field }) => ({
      metric: {
        namespace: input.Namespace,
        metricName: datum.MetricName,
        dimensions: Object.fromEntries((datum.Dimensions ?? []).map((d) => [d.Name, d.Value])),
      },
      sample: toStoredSample(datum, field, now),
    }));
    for (const { metric, sample } of samples) this.#store.put(metric, sample);
    return {};
  }

  /**
   * SetAlarmState (API reference: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html):
   * "Temporarily sets the state of an alarm ... When the updated state differs from the previous value, the action
   * configured for the appropriate state is invoked ... Metric alarms returns to their actual state quickly": the next
   * {@link evaluateAlarms} sets the evaluated state again when it differs. A change emits the state-change event and a
   * StateUpdate history item. Errors from the model: ResourceNotFound (HTTP 404) for an unknown alarm, InvalidFormatFault
   * (400) when StateReasonData is not JSON.
   * ASSUMPTION: setting the value the alarm already has updates StateReason/StateReasonData only (no event, no history
   * item), as only a differing state "invokes" anything.
   */
  #setAlarmState(input: z.infer<typeof SetAlarmStateInput>): Record<string, never> {
    const alarm = this.#alarms.get(input.AlarmName);
    if (!alarm) {
      throw new EmulatorServiceError('ResourceNotFound', `Alarm ${input.AlarmName} does not exist.`, 404);
    }
    if (input.StateReasonData !== undefined) {
      try {
        JSON.parse(input.StateReasonData);
      } catch {
        throw new EmulatorServiceError(
          'InvalidFormatFault',
          'The parameter StateReasonData must be a JSON document (e.g. {"version":"1.0"}).',
        );
      }
    }
    const now = this.#clock.now();
    const next: AlarmState = {
      value: input.StateValue,
      reason: input.StateReason,
      reasonData: input.StateReasonData,
      updatedMs: now,
    };
    if (next.value === alarm.state.value) {
      alarm.state = next;
      return {};
    }
    const event = this.#transition(alarm, next, now);
    if (this.#onAlarmEvent) this.#onAlarmEvent(event);
    else this.#pendingEvents.push(event);
    return {};
  }

  /** Changes an alarm's state value: records the StateUpdate history item and returns the state-change event. */
  #transition(alarm: Alarm, next: AlarmState, atMs: number): AlarmStateChangeEvent {
    const previous = alarm.state;
    alarm.state = next;
    alarm.transitionedMs = atMs;
    // StateUpdate items as CloudWatch writes them: summary "Alarm updated from OK to ALARM", HistoryData
    // {"version":"1.0","oldState":{"stateValue","stateReason","stateReasonData"?},"newState":{...}} with
    // stateReasonData embedded as a JSON object.
    this.#history.record(alarm.name, atMs, 'StateUpdate', `Alarm updated from ${previous.value} to ${next.value}`, {
      version: '1.0',
      oldState: historyState(previous),
      newState: historyState(next),
    });
    return this.#stateChangeEvent(alarm, previous, atMs);
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

  /**
   * Returns a memoised resolver: query id → its series on the grid from `startMs` (rounded down as GetMetricData rounds
   * StartTime) to `endMs` (exclusive), stepped by its period.
   */
  #computeQueries(queries: readonly Query[], startMs: number, endMs: number): (id: string) => GridSeries {
    const byId = new Map(queries.map((q) => [q.id, q]));
    const memo = new Map<string, GridSeries>();
    const grids = new Map<number, number[]>();
    const gridFor = (periodSec: number): number[] => {
      let grid = grids.get(periodSec);
      if (!grid) {
        const step = periodSec * 1000;
        // GetMetricData API reference, StartTime: rounded down to the minute ("Start time less than 15 days ago"), and
        // "If you set Period to 5, 10, 20, or 30, the start time of your request is rounded down to the nearest time
        // that corresponds to even 5-, 10-, 20-, or 30-second divisions of a minute". ASSUMPTION: start times older
        // than 15 days are rounded the same way (the emulator keeps full resolution for any age).
        const gridStart =
          Math.floor(startMs / (periodSec < 60 ? step : MINUTE_MS)) * (periodSec < 60 ? step : MINUTE_MS);
        const count = Math.max(0, Math.ceil((endMs - gridStart) / step));
        if (count > MAX_DATAPOINTS) {
          throw new EmulatorServiceError(
            'InvalidParameterCombinationException',
            `The query would return ${count} datapoints for Period ${periodSec}; the limit is ${MAX_DATAPOINTS}.`,
          );
        }
        grid = Array.from({ length: count }, (_, k) => gridStart + k * step);
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

  /** The statistic of one MetricStat query over [fromMs, toMs); `undefined` when no datapoint was stored there. */
  #aggregate(
    stat: NonNullable<Query['stat']>,
    fromMs: number,
    toMs: number,
    statistic: string = stat.stat,
  ): { value: number; count: number } | undefined {
    const metric = {
      namespace: stat.namespace,
      metricName: stat.metricName,
      dimensions: Object.fromEntries(stat.dimensions.map((d) => [d.Name, d.Value])),
    };
    const result = this.#store.aggregate(metric, statistic, stat.unit, fromMs, toMs);
    return result && { value: result.value, count: result.sampleCount };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Alarm evaluation
  // -------------------------------------------------------------------------------------------------------------

  /**
   * The alarm's next state at `nowMs`, or `undefined` to keep the current one. Retrieves the evaluation range (the
   * last {@link evaluationRangePeriods} complete periods) of the alarm's returned series — for metric-math alarms the
   * expression's own datapoints, so `DIFF(m)` alarms follow the same missing-data rules — and lets
   * {@link evaluateRange} decide.
   */
  #evaluate(alarm: Alarm, nowMs: number): AlarmState | undefined {
    const n = alarm.evaluationPeriods;
    const m = alarm.datapointsToAlarm ?? n;
    const periodMs = alarm.period * 1000;
    const rangeSize = evaluationRangePeriods(n);
    // The last complete period ends at the latest period boundary at or before nowMs. ASSUMPTION: periods are aligned
    // to multiples of Period since the epoch (minute boundaries for 60 s), as CloudWatch's datapoint timestamps are.
    const endMs = Math.floor(nowMs / periodMs) * periodMs;
    const lookback = alarm.single ? 0 : ALARM_MATH_LOOKBACK_PERIODS;
    const series = this.#computeQueries(
      alarm.queries,
      endMs - (rangeSize + lookback) * periodMs,
      endMs,
    )(alarm.returnId);
    const periodStart = (k: number) => endMs - (k + 1) * periodMs;
    const range = Array.from({ length: rangeSize }, (_, k) => {
      const idx = series.timestampsMs.indexOf(periodStart(k));
      return idx >= 0 ? series.values[idx] : undefined;
    });
    const breaches = (v: number): boolean => compareToThreshold(alarm.comparisonOperator, v, alarm.threshold);
    const outcome = evaluateRange({
      range,
      evaluationPeriods: n,
      datapointsToAlarm: m,
      treatMissingData: alarm.treatMissingData,
      breaches,
    });
    if (outcome.kind === 'retain') return undefined;

    const stat = alarm.single ? alarm.queries[0]?.stat : undefined;
    const evaluated = outcome.evaluated.map((d) => ({
      ...d,
      t: periodStart(d.index),
      count:
        stat && d.value !== undefined
          ? this.#aggregate(stat, periodStart(d.index), periodStart(d.index) + periodMs, 'SampleCount')?.count
          : undefined,
    }));
    const state = (value: AlarmStateValue, reason: string): AlarmState => ({
      value,
      reason,
      reasonData: reasonData(alarm, nowMs, evaluated),
      updatedMs: nowMs,
    });
    const real = evaluated.filter((d): d is typeof d & { value: number } => d.value !== undefined);

    if (outcome.value === 'INSUFFICIENT_DATA') {
      return state(
        'INSUFFICIENT_DATA',
        `Insufficient Data: ${n} ${n === 1 ? 'datapoint was' : 'datapoints were'} unknown.`,
      );
    }
    if (outcome.rule === 'all-missing') {
      const treatedAs = alarm.treatMissingData === 'breaching' ? 'Breaching' : 'NonBreaching';
      return state(
        outcome.value,
        `Threshold Crossed: no datapoints were received for ${plural(n, 'period')} and ${plural(n, 'missing datapoint')} ${n === 1 ? 'was' : 'were'} treated as [${treatedAs}].`,
      );
    }
    const op = comparisonPhrase(alarm.comparisonOperator);
    const threshold = javaDouble(alarm.threshold);
    if (outcome.value === 'ALARM') {
      const count = outcome.breachingCount;
      return state(
        'ALARM',
        `Threshold Crossed: ${count} out of the last ${n} datapoints ${datapointList(real.filter((d) => d.breaching))} ${count === 1 ? 'was' : 'were'} ${op} the threshold (${threshold}) (minimum ${plural(m, 'datapoint')} for OK -> ALARM transition).`,
      );
    }
    const good = evaluated.filter((d) => !d.breaching).length;
    return state(
      'OK',
      `Threshold Crossed: ${good} out of the last ${n} datapoints ${datapointList(real.filter((d) => !d.breaching))} ${good === 1 ? 'was' : 'were'} not ${op} the threshold (${threshold}) (minimum ${plural(n - m + 1, 'datapoint')} for ALARM -> OK transition).`,
    );
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

/**
 * StateReasonData JSON, shaped like CloudWatch's (version 1.0): `queryDate` = the evaluation instant, `startDate` =
 * the oldest evaluated real datapoint, `recentDatapoints` = the evaluated real values oldest first,
 * `evaluatedDatapoints` = the evaluated datapoints newest first (filled missing ones with a timestamp only).
 */
function reasonData(
  alarm: Alarm,
  nowMs: number,
  evaluated: ReadonlyArray<EvaluatedDatapoint & { t: number; count: number | undefined }>,
): string {
  const real = evaluated.filter((d) => d.value !== undefined);
  const oldest = real[real.length - 1];
  const data: Record<string, unknown> = { version: '1.0', queryDate: awsTimestamp(nowMs) };
  if (oldest) data.startDate = awsTimestamp(oldest.t);
  const stat = alarm.single ? (alarm.single.statistic ?? alarm.single.extendedStatistic) : undefined;
  if (stat !== undefined) data.statistic = stat;
  data.period = alarm.period;
  data.recentDatapoints = [...real].reverse().map((d) => d.value);
  data.threshold = alarm.threshold;
  data.evaluatedDatapoints = evaluated.map((d) => ({
    timestamp: awsTimestamp(d.t),
    ...(d.count !== undefined ? { sampleCount: d.count } : {}),
    ...(d.value !== undefined ? { value: d.value } : {}),
  }));
  return JSON.stringify(data);
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

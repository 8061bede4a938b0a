/**
 * Wire shapes and input validation of the CloudWatch emulator: the request structures of the CloudWatch API model
 * (botocore cloudwatch/2010-08-01 service-2.json) as zod schemas, in the awsJson1_0 query-compatible form that SDK v3
 * clients send (timestamps as epoch seconds), and the MetricDataQuery validation shared by alarms and GetMetricData.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { TREAT_MISSING_DATA } from '#sandbox/emulator/cloudwatch-alarms.ts';
import { isSupportedStat, STATISTICS } from '#sandbox/emulator/cloudwatch-store.ts';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import { type MathNode, MetricMathError, parseExpression } from '#sandbox/emulator/metric-math.ts';

// ---------------------------------------------------------------------------------------------------------------
// Wire shapes (awsJson1_0, query-compatible). Field names are the CloudWatch API's; timestamps are epoch SECONDS.
// ---------------------------------------------------------------------------------------------------------------

/** PutMetricAlarm ComparisonOperator values the emulator evaluates (static thresholds). */
export const COMPARISON_OPERATORS = [
  'GreaterThanThreshold',
  'GreaterThanOrEqualToThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
] as const;
/** One of {@link COMPARISON_OPERATORS}. */
export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

/** StateValue enum of the API model. */
export const STATE_VALUES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;

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

/** PutMetricAlarmInput of the CloudWatch API model (awsJson1_0 wire form, timestamps in epoch seconds). */
export const PutMetricAlarmInput = z.object({
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

/** DescribeAlarmsInput of the CloudWatch API model (awsJson1_0 wire form, timestamps in epoch seconds). */
export const DescribeAlarmsInput = z.object({
  AlarmNames: z.array(z.string().min(1).max(255)).max(100).optional(),
  AlarmNamePrefix: z.string().min(1).max(255).optional(),
  AlarmTypes: z.array(z.enum(['CompositeAlarm', 'MetricAlarm'])).optional(),
  StateValue: z.enum(STATE_VALUES).optional(),
  ActionPrefix: z.string().min(1).max(1024).optional(),
  MaxRecords: z.number().int().min(1).max(100).optional(),
  NextToken: z.string().optional(),
});

/** DeleteAlarmsInput of the CloudWatch API model (awsJson1_0 wire form, timestamps in epoch seconds). */
export const DeleteAlarmsInput = z.object({ AlarmNames: z.array(z.string().min(1).max(255)).max(100) });

/** Tag of the CloudWatch model: Key 1-128 characters, Value 0-256. */
const CloudWatchTag = z.object({ Key: z.string().min(1).max(128), Value: z.string().max(256) });
/** TagResourceInput of the CloudWatch API model. */
export const TagResourceInput = z.object({
  ResourceARN: z.string().min(1).max(1024),
  Tags: z.array(CloudWatchTag),
});
/** UntagResourceInput of the CloudWatch API model. */
export const UntagResourceInput = z.object({
  ResourceARN: z.string().min(1).max(1024),
  TagKeys: z.array(z.string().min(1).max(128)),
});
/** ListTagsForResourceInput of the CloudWatch API model. */
export const ListTagsForResourceInput = z.object({ ResourceARN: z.string().min(1).max(1024) });

/** GetMetricDataInput of the CloudWatch API model (awsJson1_0 wire form, timestamps in epoch seconds). */
export const GetMetricDataInput = z.object({
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

/** StandardUnit enum of the API model (MetricDatum `Unit`). */
export const STANDARD_UNITS = [
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
] as const;

/**
 * A double on the wire: a JSON number, or the strings `NaN`, `Infinity`, `-Infinity` that the JSON protocols use for
 * non-finite doubles (so the emulator can answer with CloudWatch's InvalidParameterValue instead of a type error).
 */
const WireDouble = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);
/** One WireDouble. */
export type WireDouble = z.infer<typeof WireDouble>;

const StatisticSet = z.object({ SampleCount: WireDouble, Sum: WireDouble, Minimum: WireDouble, Maximum: WireDouble });

/** MetricDatum of the API model. */
export const MetricDatum = z.object({
  MetricName: z.string().min(1).max(255),
  Dimensions: Dimensions.optional(),
  /** Epoch seconds (may be fractional). */
  Timestamp: z.number().optional(),
  Value: WireDouble.optional(),
  StatisticValues: StatisticSet.optional(),
  Values: z.array(WireDouble).optional(),
  Counts: z.array(WireDouble).optional(),
  Unit: z.enum(STANDARD_UNITS).optional(),
  StorageResolution: z.number().int().min(1).optional(),
});
/** One parsed MetricDatum. */
export type MetricDatumInput = z.infer<typeof MetricDatum>;

/** PutMetricDataInput of the API model (Namespace pattern `[^:].*`, 1–255 characters). */
export const PutMetricDataInput = z.object({
  Namespace: z.string().min(1).max(255).regex(/^[^:]/),
  MetricData: z.array(MetricDatum).optional(),
  EntityMetricData: z
    .array(z.object({ Entity: z.unknown().optional(), MetricData: z.array(MetricDatum).optional() }))
    .optional(),
  StrictEntityValidation: z.boolean().optional(),
});

/** SetAlarmStateInput of the API model (StateReason ≤ 1023 characters, StateReasonData ≤ 4000). */
export const SetAlarmStateInput = z.object({
  AlarmName: z.string().min(1).max(255),
  StateValue: z.enum(STATE_VALUES),
  StateReason: z.string().max(1023),
  StateReasonData: z.string().max(4000).optional(),
});

/** HistoryItemType enum of the API model. */
export const HISTORY_ITEM_TYPES = [
  'ConfigurationUpdate',
  'StateUpdate',
  'Action',
  'AlarmContributorStateUpdate',
  'AlarmContributorAction',
] as const;
/** One of {@link HISTORY_ITEM_TYPES}. */
export type HistoryItemType = (typeof HISTORY_ITEM_TYPES)[number];

/** DescribeAlarmHistoryInput of the API model (timestamps in epoch seconds). */
export const DescribeAlarmHistoryInput = z.object({
  AlarmName: z.string().min(1).max(255).optional(),
  AlarmContributorId: z.string().min(1).max(16).optional(),
  AlarmTypes: z.array(z.enum(['CompositeAlarm', 'MetricAlarm'])).optional(),
  HistoryItemType: z.enum(HISTORY_ITEM_TYPES).optional(),
  StartDate: z.number().optional(),
  EndDate: z.number().optional(),
  MaxRecords: z.number().int().min(1).max(100).optional(),
  NextToken: z.string().optional(),
  ScanBy: z.enum(['TimestampDescending', 'TimestampAscending']).optional(),
});

// ---------------------------------------------------------------------------------------------------------------
// Internal model
// ---------------------------------------------------------------------------------------------------------------
/** A validated MetricDataQuery: exactly one of `stat` / `expression`. */
export interface Query {
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

/**
 * Parses with zod; a failure becomes CloudWatch's "N validation errors detected: Value … at '…' failed to …".
 * @throws EmulatorServiceError ValidationException naming each field that failed.
 */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
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

/**
 * Validates MetricDataQuery structures (PutMetricAlarm `Metrics`, GetMetricData `MetricDataQueries`).
 * @throws EmulatorServiceError ValidationException / MissingRequiredParameterException / InvalidParameterValueException.
 */
export function parseQueries(raw: readonly MetricDataQueryInput[], field: string): Query[] {
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

/** A metric-math problem of query `q`, as CloudWatch's ValidationException. */
export function mathError(q: Query, message: string): EmulatorServiceError {
  return new EmulatorServiceError(
    'ValidationException',
    `Error in expression '${q.id}'${q.expression ? ` (${q.expression.text})` : ''}: ${message}.`,
  );
}

/**
 * Alarm periods: 10, 20, 30 or a multiple of 60 s; GetMetricData also allows 1 and 5 (high resolution).
 * @throws EmulatorServiceError InvalidParameterValueException naming `field`.
 */
export function checkPeriod(period: number, field: string, allowHighResolution: boolean): void {
  const ok = period % 60 === 0 || [10, 20, 30].includes(period) || (allowHighResolution && [1, 5].includes(period));
  if (!ok) {
    throw new EmulatorServiceError(
      'InvalidParameterValueException',
      `The parameter ${field} must be ${allowHighResolution ? '1, 5, ' : ''}10, 20, 30 or a multiple of 60 (got ${period}).`,
    );
  }
}

/** A query as DescribeAlarms returns it in `Metrics`. */
export function describeQuery(q: Query): Record<string, unknown> {
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

/** A short hash of a request's identifying fields, so a NextToken is only accepted by the request it came from. */
export function requestFingerprint(input: object): string {
  const { NextToken: _token, MaxDatapoints: _max, ...identity } = input as Record<string, unknown>;
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
}

/** An opaque NextToken: the offset to continue from, bound to the request's fingerprint. */
export function encodeNextToken(offset: number, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ o: offset, f: fingerprint })).toString('base64url');
}

/** @throws EmulatorServiceError InvalidNextToken (HTTP 400 in the model) for a malformed or foreign token. */
export function decodeNextToken(token: string, fingerprint: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      parsed !== null &&
      typeof parsed === 'object' &&
      'o' in parsed &&
      'f' in parsed &&
      Number.isInteger(parsed.o) &&
      (parsed.o as number) >= 0 &&
      parsed.f === fingerprint
    ) {
      return parsed.o as number;
    }
  } catch {
    // fall through to the service error
  }
  throw new EmulatorServiceError('InvalidNextToken', 'The NextToken is not valid for this request.');
}

/**
 * The awsQueryError code of each CloudWatch exception (API model: `error.code`), sent in the `x-amzn-query-error`
 * header of the query-compatible JSON protocol; SDKs and the AWS CLI report it as the error code (e.g. an
 * InvalidParameterValueException is reported as `InvalidParameterValue`). Exceptions without a code in the model keep
 * their name.
 */
const QUERY_ERROR_CODES: Readonly<Record<string, string>> = {
  DashboardInvalidInputError: 'InvalidParameterInput',
  DashboardNotFoundError: 'ResourceNotFound',
  InternalServiceFault: 'InternalServiceError',
  InvalidFormatFault: 'InvalidFormat',
  InvalidParameterCombinationException: 'InvalidParameterCombination',
  InvalidParameterValueException: 'InvalidParameterValue',
  LimitExceededFault: 'LimitExceeded',
  MissingRequiredParameterException: 'MissingParameter',
  ValidationException: 'ValidationError',
  // Common errors of the CloudWatch Query API (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html):
  // the query codes of request throttling, an expired security token and a denied action.
  ThrottlingException: 'Throttling',
  ExpiredTokenException: 'ExpiredToken',
  AccessDeniedException: 'AccessDenied',
};

/** The `x-amzn-query-error` code of a CloudWatch exception name (see {@link QUERY_ERROR_CODES}). */
export function cloudWatchQueryErrorCode(exceptionName: string): string {
  return QUERY_ERROR_CODES[exceptionName] ?? exceptionName;
}

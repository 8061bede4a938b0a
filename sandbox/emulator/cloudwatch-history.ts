/**
 * Alarm history of the CloudWatch emulator: what DescribeAlarmHistory returns. Items are kept after their alarm is
 * deleted ("CloudWatch retains the history of an alarm even if you delete the alarm", DescribeAlarmHistory API
 * reference).
 */
import type { z } from 'zod';
import { awsTimestamp } from '#sandbox/emulator/cloudwatch-reasons.ts';
import {
  type DescribeAlarmHistoryInput,
  decodeNextToken,
  encodeNextToken,
  type HistoryItemType,
  requestFingerprint,
} from '#sandbox/emulator/cloudwatch-wire.ts';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';

/** One DescribeAlarmHistory item as stored. */
interface HistoryItem {
  /** Insertion order, to keep items of the same millisecond in the order they happened. */
  readonly seq: number;
  readonly alarmName: string;
  /** Epoch ms. */
  readonly timestampMs: number;
  readonly type: HistoryItemType;
  readonly summary: string;
  /** JSON text. */
  readonly data: string;
}

/** The alarm history items of one emulator, in the order they were recorded. */
export class AlarmHistory {
  readonly #items: HistoryItem[] = [];
  #seq = 0;

  /** Adds one item; `data` is serialised to the HistoryData JSON text. */
  record(alarmName: string, timestampMs: number, type: HistoryItemType, summary: string, data: unknown): void {
    this.#seq += 1;
    this.#items.push({ seq: this.#seq, alarmName, timestampMs, type, summary, data: JSON.stringify(data) });
  }

  /**
   * DescribeAlarmHistory (API reference: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html).
   * Filters: AlarmName, AlarmTypes ("If you omit this parameter, only metric alarms are returned"; the emulator has
   * only metric alarms), HistoryItemType, StartDate/EndDate; MaxRecords 1–100; ScanBy "TimestampDescending to have the
   * newest event history returned first". Items: ConfigurationUpdate (PutMetricAlarm) and StateUpdate (evaluation,
   * SetAlarmState) with HistoryData JSON shaped like CloudWatch's.
   * ASSUMPTIONS: ScanBy defaults to TimestampDescending, MaxRecords to 100 (the reference gives no defaults);
   * StartDate and EndDate are both inclusive.
   * @throws EmulatorServiceError InvalidNextToken (400) for a NextToken this request did not produce.
   */
  describe(input: z.infer<typeof DescribeAlarmHistoryInput>): unknown {
    const wantMetric = input.AlarmTypes === undefined || input.AlarmTypes.includes('MetricAlarm');
    const startMs = input.StartDate === undefined ? undefined : input.StartDate * 1000;
    const endMs = input.EndDate === undefined ? undefined : input.EndDate * 1000;
    const ascending = input.ScanBy === 'TimestampAscending';
    const matching = (wantMetric && input.AlarmContributorId === undefined ? this.#items : [])
      .filter((h) => input.AlarmName === undefined || h.alarmName === input.AlarmName)
      .filter((h) => input.HistoryItemType === undefined || h.type === input.HistoryItemType)
      .filter((h) => startMs === undefined || h.timestampMs >= startMs)
      .filter((h) => endMs === undefined || h.timestampMs <= endMs)
      .sort((a, b) => (ascending ? 1 : -1) * (a.timestampMs - b.timestampMs || a.seq - b.seq));
    const fingerprint = requestFingerprint({ ...input, NextToken: undefined, MaxRecords: undefined });
    const offset = input.NextToken === undefined ? 0 : decodeNextToken(input.NextToken, fingerprint);
    if (offset > matching.length) throw new EmulatorServiceError('InvalidNextToken', 'The NextToken is not valid.');
    const max = input.MaxRecords ?? 100;
    const page = matching.slice(offset, offset + max);
    const nextOffset = offset + page.length;
    return {
      AlarmHistoryItems: page.map((h) => ({
        AlarmName: h.alarmName,
        AlarmType: 'MetricAlarm',
        Timestamp: h.timestampMs / 1000,
        HistoryItemType: h.type,
        HistorySummary: h.summary,
        HistoryData: h.data,
      })),
      ...(nextOffset < matching.length ? { NextToken: encodeNextToken(nextOffset, fingerprint) } : {}),
    };
  }
}

/** A state as DescribeAlarmHistory's StateUpdate HistoryData writes it (stateReasonData as an object). */
export function historyState(s: {
  readonly value: string;
  readonly reason: string;
  readonly reasonData: string | undefined;
}): Record<string, unknown> {
  let reasonObject: unknown;
  if (s.reasonData !== undefined) {
    try {
      reasonObject = JSON.parse(s.reasonData);
    } catch {
      reasonObject = undefined;
    }
  }
  return {
    stateValue: s.value,
    stateReason: s.reason,
    ...(reasonObject !== undefined ? { stateReasonData: reasonObject } : {}),
  };
}

/**
 * An alarm's configuration as ConfigurationUpdate HistoryData writes it (`createdAlarm`): DescribeAlarms fields in
 * camelCase, timestamps as `2026-03-02T14:07:00.000+0000`, dimensions as `{name, value}`, `okactions` spelled as
 * CloudWatch spells it.
 */
export function historyAlarmConfig(described: Record<string, unknown>): Record<string, unknown> {
  const camel = (key: string): string =>
    key === 'OKActions' ? 'okactions' : key.charAt(0).toLowerCase() + key.slice(1);
  const convert = (value: unknown, key: string): unknown => {
    if (key.endsWith('Timestamp') && typeof value === 'number') return awsTimestamp(value * 1000);
    if (Array.isArray(value)) return value.map((v) => convert(v, ''));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), convert(v, k)]));
    }
    return value;
  };
  return convert(described, '') as Record<string, unknown>;
}

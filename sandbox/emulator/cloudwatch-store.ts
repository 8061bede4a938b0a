import type { MetricDatumInput, WireDouble } from '#sandbox/emulator/cloudwatch-wire.ts';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';

/**
 * The metric store of the CloudWatch emulator: every datapoint put (by the MSF emulator or by PutMetricData) is kept,
 * none is dropped or thinned, and statistics are computed per period on request.
 */

/** PutMetricData API reference: "Values must be in the range of -2^360 to 2^360". */
const MAX_ABS_VALUE = 2 ** 360;
const SECOND_MS = 1_000;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Statistics CloudWatch computes (GetMetricData `Stat`, PutMetricAlarm `Statistic`); percentiles are `pNN(.NN)`. */
export const STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'] as const;

/**
 * One stored sample: a single value, a Values/Counts set, or a StatisticSet, as PutMetricData accepts them
 * (API reference, MetricDatum: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html).
 */
export interface StoredSample {
  /** Epoch ms the sample is filed under (already truncated to its storage resolution). */
  readonly t: number;
  /** CloudWatch StandardUnit, `None` when not given. */
  readonly unit: string;
  readonly sampleCount: number;
  readonly sum: number;
  readonly minimum: number;
  readonly maximum: number;
  /**
   * Raw values with their counts, for percentiles; `undefined` for a StatisticSet that percentiles cannot use.
   * PutMetricData API reference: percentiles of a statistic set are available only when "The SampleCount value of the
   * statistic set is 1 and Min, Max, and Sum are all equal" or "The Min and Max are equal, and Sum is equal to Min
   * multiplied by SampleCount".
   */
  readonly values: ReadonlyArray<readonly [value: number, count: number]> | undefined;
}

/** A metric's identity: namespace, name and dimensions (name → value; order does not matter). */
export interface MetricIdentity {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** What a statistic over one period came to. */
export interface PeriodStatistic {
  readonly value: number;
  /** SampleCount of the period (the number of values aggregated). */
  readonly sampleCount: number;
}

/** In-memory metric store keyed by metric identity; samples are kept sorted by time on read. */
export class MetricStore {
  readonly #series = new Map<string, StoredSample[]>();
  readonly #unsorted = new Set<string>();

  /** Stores one sample of a metric. Several samples of one period are all kept (SampleCount counts them). */
  put(metric: MetricIdentity, sample: StoredSample): void {
    const key = seriesKey(metric);
    let samples = this.#series.get(key);
    if (!samples) {
      samples = [];
      this.#series.set(key, samples);
    }
    const last = samples[samples.length - 1];
    if (last && last.t > sample.t) this.#unsorted.add(key);
    samples.push(sample);
  }

  /**
   * The statistic `stat` over the samples of `metric` filed in [fromMs, toMs), or `undefined` when there are none (or,
   * for a percentile, none that carries raw values). With `unit`, only samples stored with that unit count
   * (GetMetricData API reference: "If you specify a unit, the operation returns only data that was collected with that
   * unit specified ... CloudWatch does not perform unit conversions").
   */
  aggregate(
    metric: MetricIdentity,
    stat: string,
    unit: string | undefined,
    fromMs: number,
    toMs: number,
  ): PeriodStatistic | undefined {
    const samples = this.#samples(seriesKey(metric));
    const inPeriod: StoredSample[] = [];
    for (let k = lowerBound(samples, fromMs); k < samples.length; k++) {
      const s = samples[k];
      if (!s || s.t >= toMs) break;
      if (unit === undefined || unit === s.unit) inPeriod.push(s);
    }
    if (inPeriod.length === 0) return undefined;
    const sampleCount = inPeriod.reduce((a, s) => a + s.sampleCount, 0);
    const sum = inPeriod.reduce((a, s) => a + s.sum, 0);
    switch (stat) {
      case 'Maximum':
        return { value: Math.max(...inPeriod.map((s) => s.maximum)), sampleCount };
      case 'Minimum':
        return { value: Math.min(...inPeriod.map((s) => s.minimum)), sampleCount };
      case 'Sum':
        return { value: sum, sampleCount };
      case 'Average':
        return { value: sum / sampleCount, sampleCount };
      case 'SampleCount':
        return { value: sampleCount, sampleCount };
      default: {
        const weighted = inPeriod.flatMap((s) => s.values ?? []);
        if (weighted.length === 0) return undefined;
        return { value: percentile(Number(stat.slice(1)), weighted), sampleCount };
      }
    }
  }

  #samples(key: string): readonly StoredSample[] {
    const samples = this.#series.get(key) ?? [];
    if (this.#unsorted.delete(key)) samples.sort((a, b) => a.t - b.t);
    return samples;
  }
}

/** True for `pNN` / `pNN.NN` / `p100` (extended statistics the emulator computes). */
export function isPercentile(stat: string): boolean {
  return /^p(\d{1,2}(\.\d{1,2})?|100)$/.test(stat);
}

/** True for a statistic the emulator computes: {@link STATISTICS} or a percentile. */
export function isSupportedStat(stat: string): boolean {
  return (STATISTICS as readonly string[]).includes(stat) || isPercentile(stat);
}

/** Nearest-rank percentile over weighted values. ASSUMPTION: CloudWatch's own percentile estimator is not published. */
function percentile(p: number, weighted: ReadonlyArray<readonly [number, number]>): number {
  const sorted = [...weighted].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((a, [, c]) => a + c, 0);
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [value, c] of sorted) {
    seen += c;
    if (seen >= rank) return value;
  }
  return sorted[sorted.length - 1]?.[0] ?? Number.NaN;
}

function seriesKey(metric: MetricIdentity): string {
  const dims = Object.entries(metric.dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([metric.namespace, metric.metricName, dims]);
}

function lowerBound(samples: readonly StoredSample[], t: number): number {
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((samples[mid]?.t ?? Number.POSITIVE_INFINITY) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A finite wire double within ±2^360, or InvalidParameterValue naming the field. */
export function checkedValue(v: WireDouble, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > MAX_ABS_VALUE) {
    throw new EmulatorServiceError(
      'InvalidParameterValueException',
      `The value ${String(v)} for parameter ${field} is invalid: values must be finite numbers between -2^360 and 2^360 (NaN and Infinity are not supported).`,
    );
  }
  return v;
}

/**
 * Validates one PutMetricData MetricDatum (rules listed at the emulator's PutMetricData) and turns it into a stored sample.
 * @throws EmulatorServiceError InvalidParameterValueException / InvalidParameterCombinationException /
 *   MissingRequiredParameterException naming the field.
 */
export function toStoredSample(datum: MetricDatumInput, field: string, nowMs: number): StoredSample {
  const given = (['Value', 'StatisticValues', 'Values'] as const).filter((f) => datum[f] !== undefined);
  if (given.length > 1) {
    throw new EmulatorServiceError(
      'InvalidParameterCombinationException',
      `The parameters ${given.map((f) => `${field}.${f}`).join(' and ')} are mutually exclusive and you have specified ${given.length === 2 ? 'both' : 'all of them'}.`,
    );
  }
  if (given.length === 0) {
    throw new EmulatorServiceError(
      'MissingRequiredParameterException',
      `One of the parameters ${field}.Value, ${field}.StatisticValues or ${field}.Values is required.`,
    );
  }
  if (datum.Counts !== undefined && datum.Values === undefined) {
    throw new EmulatorServiceError(
      'InvalidParameterCombinationException',
      `The parameter ${field}.Counts can only be used together with ${field}.Values.`,
    );
  }
  const resolution = datum.StorageResolution ?? 60;
  if (resolution !== 1 && resolution !== 60) {
    throw new EmulatorServiceError(
      'InvalidParameterValueException',
      `The value ${resolution} for parameter ${field}.StorageResolution is invalid: valid values are 1 and 60.`,
    );
  }
  const timestampMs = datum.Timestamp === undefined ? nowMs : datum.Timestamp * 1000;
  if (!Number.isFinite(timestampMs) || timestampMs < nowMs - 14 * DAY_MS || timestampMs > nowMs + 2 * HOUR_MS) {
    throw new EmulatorServiceError(
      'InvalidParameterValueException',
      `The parameter ${field}.Timestamp must be no more than two weeks in the past and no more than 2 hours in the future (got ${new Date(timestampMs).toISOString()}).`,
    );
  }
  const step = resolution === 1 ? SECOND_MS : MINUTE_MS;
  const t = Math.floor(timestampMs / step) * step;
  const unit = datum.Unit ?? 'None';

  if (datum.Value !== undefined) {
    const v = checkedValue(datum.Value, `${field}.Value`);
    return { t, unit, sampleCount: 1, sum: v, minimum: v, maximum: v, values: [[v, 1]] };
  }
  if (datum.StatisticValues !== undefined) {
    const s = datum.StatisticValues;
    const where = `${field}.StatisticValues`;
    const sampleCount = checkedValue(s.SampleCount, `${where}.SampleCount`);
    const sum = checkedValue(s.Sum, `${where}.Sum`);
    const minimum = checkedValue(s.Minimum, `${where}.Minimum`);
    const maximum = checkedValue(s.Maximum, `${where}.Maximum`);
    if (!(sampleCount > 0) || minimum > maximum) {
      // ASSUMPTION: an impossible statistic set is refused (the reference gives no rule; CloudWatch's own check is not
      // documented).
      throw new EmulatorServiceError(
        'InvalidParameterValueException',
        `The parameter ${where} is inconsistent: SampleCount must be greater than 0 and Minimum must not exceed Maximum.`,
      );
    }
    // Percentiles only when "SampleCount ... is 1 and Min, Max, and Sum are all equal" or "Min and Max are equal, and
    // Sum is equal to Min multiplied by SampleCount" (PutMetricData API reference).
    const usable = minimum === maximum && sum === minimum * sampleCount;
    return { t, unit, sampleCount, sum, minimum, maximum, values: usable ? [[minimum, sampleCount]] : undefined };
  }
  const values = (datum.Values ?? []).map((v, i) => checkedValue(v, `${field}.Values.member.${i + 1}`));
  if (values.length === 0 || values.length > 150) {
    throw new EmulatorServiceError(
      'InvalidParameterValueException',
      `The parameter ${field}.Values must hold 1 to 150 values (got ${values.length}).`,
    );
  }
  const counts = (datum.Counts ?? values.map(() => 1)).map((c, i) =>
    checkedValue(c, `${field}.Counts.member.${i + 1}`),
  );
  if (counts.length !== values.length) {
    throw new EmulatorServiceError(
      'InvalidParameterValueException',
      `The parameters ${field}.Values and ${field}.Counts must have the same number of members (${values.length} and ${counts.length}).`,
    );
  }
  if (counts.some((c) => c < 0)) {
    throw new EmulatorServiceError(
      'InvalidParameterValueException',
      `The parameter ${field}.Counts must not be negative.`,
    );
  }
  const pairs = values.map((v, i) => [v, counts[i] ?? 1] as const).filter(([, c]) => c > 0);
  if (pairs.length === 0) {
    throw new EmulatorServiceError(
      'InvalidParameterValueException',
      `The parameter ${field}.Counts must count at least one value.`,
    );
  }
  return {
    t,
    unit,
    sampleCount: pairs.reduce((a, [, c]) => a + c, 0),
    sum: pairs.reduce((a, [v, c]) => a + v * c, 0),
    minimum: Math.min(...pairs.map(([v]) => v)),
    maximum: Math.max(...pairs.map(([v]) => v)),
    values: pairs,
  };
}

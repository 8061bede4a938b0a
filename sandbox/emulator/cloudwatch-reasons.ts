/**
 * Wording of the CloudWatch emulator's alarm states: StateReason text and timestamps as CloudWatch writes them, e.g.
 * `Threshold Crossed: 3 out of the last 3 datapoints [1.0 (02/03/26 13:59:00), ...] were greater than the threshold
 * (0.0) (minimum 3 datapoints for OK -> ALARM transition).` (format of the reasons in CloudWatch's alarm events and
 * DescribeAlarms output).
 */
import type { ComparisonOperator } from '#sandbox/emulator/cloudwatch-wire.ts';

/** Whether `v` breaches `threshold` under the alarm's ComparisonOperator. */
export function compareToThreshold(op: ComparisonOperator, v: number, threshold: number): boolean {
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

/** The ComparisonOperator as StateReason words it, e.g. `greater than`. */
export function comparisonPhrase(op: ComparisonOperator): string {
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
export function datapointList(points: ReadonlyArray<{ t: number; value: number }>): string {
  return `[${points.map((p) => `${javaDouble(p.value)} (${reasonTimestamp(p.t)})`).join(', ')}]`;
}

/** `1 datapoint`, `3 datapoints`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A number as Java's Double.toString prints it (CloudWatch's reasons do): `0.0`, `7.5`, `1.0E7`. */
export function javaDouble(v: number): string {
  const abs = Math.abs(v);
  if (v !== 0 && (abs >= 1e7 || abs < 1e-3)) {
    const [mantissa = '0', exponent = '0'] = v.toExponential().split('e');
    return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
  }
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

/** `dd/MM/yy HH:mm:ss` in UTC, as in StateReason. */
export function reasonTimestamp(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** `2026-03-02T14:07:00.000+0000`, CloudWatch's timestamp format in reasonData and event states. */
export function awsTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

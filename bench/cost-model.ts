/**
 * The watchdog's running cost for a fleet, from one model: list prices (us-east-1, free tiers not deducted, checked
 * 2026-11) × usage. The usage per sweep is what the fleet bench measured (bench/fleet.ts); what cannot be measured
 * locally is an assumption of {@link CostAssumptions}, each with its reason. The README's cost section is printed by
 * {@link costTableRows} from the same model. Managed Service for Apache Flink itself is not included. Pure.
 */

/** One list price, per `unit`, USD. */
export interface Price {
  usd: number;
  unit: string;
  /** Where the price is published. */
  source: string;
}

const CLOUDWATCH_PRICING = 'https://aws.amazon.com/cloudwatch/pricing/';
const LAMBDA_PRICING = 'https://aws.amazon.com/lambda/pricing/';
const STEP_FUNCTIONS_PRICING = 'https://aws.amazon.com/step-functions/pricing/';
const DYNAMODB_PRICING = 'https://aws.amazon.com/dynamodb/pricing/on-demand/';
const EVENTBRIDGE_PRICING = 'https://aws.amazon.com/eventbridge/pricing/';

/** us-east-1 list prices, checked 2026-11 on the pages named in `source`. */
export const PRICES = {
  /** Standard-resolution alarm, per alarm metric a month (a metric math alarm: each metric it reads). */
  alarmMetric: { usd: 0.1, unit: 'alarm metric-month', source: CLOUDWATCH_PRICING },
  /** GetMetricData: per 1,000 metrics requested (not in the free tier). */
  getMetricDataMetrics: { usd: 0.01, unit: '1,000 metrics requested', source: CLOUDWATCH_PRICING },
  /** Other CloudWatch API requests (DescribeAlarms, PutMetricAlarm, DeleteAlarms …): per 1,000 requests. */
  cloudWatchRequests: { usd: 0.01, unit: '1,000 requests', source: CLOUDWATCH_PRICING },
  /** Custom metric (EMF), per metric-month, prorated by the hour it is published in. */
  customMetric: { usd: 0.3, unit: 'metric-month', source: CLOUDWATCH_PRICING },
  /** Lambda on arm64 (first 6 billion GB-s tier). */
  lambdaGbSecond: { usd: 0.0000133334, unit: 'GB-second', source: LAMBDA_PRICING },
  lambdaRequests: { usd: 0.2, unit: 'million requests', source: LAMBDA_PRICING },
  /**
   * Standard workflows: per 1,000 state transitions. A Distributed Map counts one transition per child workflow
   * execution it starts (Step Functions Developer Guide, "Transitions",
   * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html).
   */
  standardTransitions: { usd: 0.025, unit: '1,000 state transitions', source: STEP_FUNCTIONS_PRICING },
  /** Express workflows: per million requests (executions started). */
  expressRequests: { usd: 1.0, unit: 'million requests', source: STEP_FUNCTIONS_PRICING },
  /** Express workflows: duration × memory (first 1,000 GB-hours tier), memory billed in 64 MB steps. */
  expressGbSecond: { usd: 0.00001667, unit: 'GB-second', source: STEP_FUNCTIONS_PRICING },
  /** DynamoDB on-demand: per million write request units (1 KB each). */
  dynamoWriteUnits: { usd: 0.625, unit: 'million write request units', source: DYNAMODB_PRICING },
  /** DynamoDB on-demand: per million read request units (4 KB strongly consistent each). */
  dynamoReadUnits: { usd: 0.125, unit: 'million read request units', source: DYNAMODB_PRICING },
  /** Events sent to another account's event bus are charged as custom events: per million. */
  crossAccountEvents: { usd: 1.0, unit: 'million events', source: EVENTBRIDGE_PRICING },
} as const satisfies Record<string, Price>;

/** What one steady-state sweep of the whole fleet used (measured by the fleet bench, or given by hand). */
export interface SweepUsage {
  /** Metrics requested with GetMetricData over all accounts, count (billed per metric, not per call). */
  getMetricDataMetrics: number;
  /** CloudWatch requests other than GetMetricData (the alarm manager's DescribeAlarms, PutMetricAlarm …), count. */
  cloudWatchRequests: number;
  /** Detector invocations: one Plan plus one LookBatch per batch, count. */
  lambdaInvocations: number;
  /** Detector run time summed over the invocations, ms. */
  lambdaDurationMs: number;
  /** State transitions of the Standard sweep execution, child workflow executions of the Distributed Map included. */
  standardTransitions: number;
  /** Express child workflow executions (one per batch), count. */
  expressExecutions: number;
  /** Their duration summed, ms. */
  expressDurationMs: number;
  /** DynamoDB read request units (the fleet memory, incidents looked up), count. */
  dynamoReadUnits: number;
  /** DynamoDB write request units (the fleet memory saved), count. */
  dynamoWriteUnits: number;
}

/** What the model cannot measure locally, each with its reason. */
export interface CostAssumptions {
  /** Sweeps a month: the schedule's default rate(5 minutes) over 30 days. */
  sweepsPerMonth: number;
  /** The detector function's memory, MB (the construct's setting). */
  lambdaMemoryMb: number;
  /** Memory an Express child execution is billed for, MB: the smallest step (64 MB); it only invokes Lambda. */
  expressMemoryMb: number;
  /** Alarm metrics per application: restart and failed-checkpoint alarms (one metric each), downtime when enabled. */
  alarmMetricsPerApplication: number;
  /** Automatic remediations per application a month (the README's assumption). */
  remediationsPerApplicationMonth: number;
  /** State transitions per remediation (the drill counts 35–49 per recovery, 78 for an escalation). */
  transitionsPerRemediation: number;
  /** Custom metrics (EMF) an incident publishes, each for one hour of the month, count. */
  customMetricsPerIncident: number;
  /**
   * Alarm and CloudTrail events a member account forwards to the central bus per application a month (alarm state
   * changes of incidents and deploys: an estimate).
   */
  forwardedEventsPerApplicationMonth: number;
}

/** The defaults of {@link CostAssumptions}. */
export const DEFAULT_COST_ASSUMPTIONS: CostAssumptions = {
  sweepsPerMonth: 30 * 24 * 12,
  lambdaMemoryMb: 512,
  expressMemoryMb: 64,
  alarmMetricsPerApplication: 2,
  remediationsPerApplicationMonth: 2,
  transitionsPerRemediation: 50,
  customMetricsPerIncident: 5,
  forwardedEventsPerApplicationMonth: 40,
};

/** One line of the bill. */
export interface CostLine {
  item: string;
  /** How the amount is computed, in words and numbers. */
  how: string;
  /** USD a month for the whole fleet. */
  monthlyUsd: number;
}

/** The monthly bill of a fleet. */
export interface FleetCost {
  applications: number;
  lines: CostLine[];
  /** USD a month, the whole fleet. */
  monthlyUsd: number;
  /** USD per application a month. */
  perApplicationMonthUsd: number;
}

const HOURS_PER_MONTH = 730;
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

/**
 * The monthly cost of watching `applications` applications with `sweep` used per sweep.
 * @param applications watched applications, count (at least 1).
 * @param memberAccounts accounts other than the watchdog's own, count (their events cross to the central bus).
 * @throws RangeError when `applications` is not a positive integer.
 */
export function fleetMonthlyCost(
  applications: number,
  memberAccounts: number,
  sweep: SweepUsage,
  assumptions: CostAssumptions = DEFAULT_COST_ASSUMPTIONS,
): FleetCost {
  if (!Number.isInteger(applications) || applications < 1) {
    throw new RangeError(`applications must be a positive whole number (got ${applications})`);
  }
  const a = assumptions;
  const n = a.sweepsPerMonth;
  const lambdaGbS = (sweep.lambdaDurationMs / 1000) * (a.lambdaMemoryMb / 1024) * n;
  const expressMb = Math.ceil(a.expressMemoryMb / 64) * 64;
  const expressGbS = (sweep.expressDurationMs / 1000) * (expressMb / 1024) * n;
  const remediations = applications * a.remediationsPerApplicationMonth;
  const memberShare = memberAccounts > 0 ? memberAccounts / (memberAccounts + 1) : 0;
  const forwarded = applications * memberShare * a.forwardedEventsPerApplicationMonth;
  const lines: CostLine[] = [
    {
      item: 'CloudWatch alarms',
      how: `${fmt(applications)} × ${a.alarmMetricsPerApplication} alarm metrics × $${PRICES.alarmMetric.usd}`,
      monthlyUsd: applications * a.alarmMetricsPerApplication * PRICES.alarmMetric.usd,
    },
    {
      item: 'GetMetricData',
      how: `${fmt(n)} sweeps × ${fmt(sweep.getMetricDataMetrics)} metrics × $${PRICES.getMetricDataMetrics.usd} per 1,000`,
      monthlyUsd: ((n * sweep.getMetricDataMetrics) / 1000) * PRICES.getMetricDataMetrics.usd,
    },
    {
      item: 'CloudWatch API requests',
      how: `${fmt(n)} sweeps × ${fmt(sweep.cloudWatchRequests)} requests (alarm manager) × $${PRICES.cloudWatchRequests.usd} per 1,000`,
      monthlyUsd: ((n * sweep.cloudWatchRequests) / 1000) * PRICES.cloudWatchRequests.usd,
    },
    {
      item: 'Lambda (detector, arm64)',
      how: `${fmt(n)} sweeps × ${fmt(sweep.lambdaInvocations)} invocations, ${fmt(lambdaGbS)} GB-s × $${PRICES.lambdaGbSecond.usd} + requests × $${PRICES.lambdaRequests.usd} per million`,
      monthlyUsd:
        lambdaGbS * PRICES.lambdaGbSecond.usd + ((n * sweep.lambdaInvocations) / 1e6) * PRICES.lambdaRequests.usd,
    },
    {
      item: 'Step Functions Standard (sweep)',
      how: `${fmt(n)} sweeps × ${fmt(sweep.standardTransitions)} transitions × $${PRICES.standardTransitions.usd} per 1,000`,
      monthlyUsd: ((n * sweep.standardTransitions) / 1000) * PRICES.standardTransitions.usd,
    },
    {
      item: 'Step Functions Express (LookBatch)',
      how: `${fmt(n)} sweeps × ${fmt(sweep.expressExecutions)} executions × $${PRICES.expressRequests.usd} per million + ${fmt(expressGbS)} GB-s × $${PRICES.expressGbSecond.usd}`,
      monthlyUsd:
        ((n * sweep.expressExecutions) / 1e6) * PRICES.expressRequests.usd + expressGbS * PRICES.expressGbSecond.usd,
    },
    {
      item: 'DynamoDB on-demand (ledger)',
      how: `${fmt(n)} sweeps × (${fmt(sweep.dynamoReadUnits)} RRU × $${PRICES.dynamoReadUnits.usd} + ${fmt(sweep.dynamoWriteUnits)} WRU × $${PRICES.dynamoWriteUnits.usd}) per million`,
      monthlyUsd:
        ((n * sweep.dynamoReadUnits) / 1e6) * PRICES.dynamoReadUnits.usd +
        ((n * sweep.dynamoWriteUnits) / 1e6) * PRICES.dynamoWriteUnits.usd,
    },
    {
      item: 'remediations (Step Functions Standard)',
      how: `${fmt(remediations)} remediations × ${a.transitionsPerRemediation} transitions × $${PRICES.standardTransitions.usd} per 1,000`,
      monthlyUsd: ((remediations * a.transitionsPerRemediation) / 1000) * PRICES.standardTransitions.usd,
    },
    {
      item: 'custom metrics of incidents (EMF)',
      how: `${fmt(remediations)} incidents × ${a.customMetricsPerIncident} metrics × 1 hour × $${PRICES.customMetric.usd} / ${HOURS_PER_MONTH} h`,
      monthlyUsd: (remediations * a.customMetricsPerIncident * PRICES.customMetric.usd) / HOURS_PER_MONTH,
    },
    {
      item: 'EventBridge cross-account events',
      how: `${fmt(forwarded)} events from member accounts × $${PRICES.crossAccountEvents.usd} per million`,
      monthlyUsd: (forwarded / 1e6) * PRICES.crossAccountEvents.usd,
    },
  ];
  const monthlyUsd = lines.reduce((sum, l) => sum + l.monthlyUsd, 0);
  return { applications, lines, monthlyUsd, perApplicationMonthUsd: monthlyUsd / applications };
}

/** USD with 2 decimals, `< 0.01` below a cent. */
function usd(n: number): string {
  return n > 0 && n < 0.005 ? '< 0.01' : n.toFixed(2);
}

/**
 * The bill as Markdown table rows (header included): per line the fleet's monthly USD and the share per
 * application. What the README's cost section shows.
 */
export function costTableRows(cost: FleetCost): string[] {
  return [
    `| item | how | $/month (${fmt(cost.applications)} applications) | $/application-month |`,
    '|---|---|---|---|',
    ...cost.lines.map(
      (l) => `| ${l.item} | ${l.how} | ${usd(l.monthlyUsd)} | ${usd(l.monthlyUsd / cost.applications)} |`,
    ),
    `| **total** | | **${usd(cost.monthlyUsd)}** | **${usd(cost.perApplicationMonthUsd)}** |`,
  ];
}

import { INCIDENT_SORT_KEY } from '#shared/adapters/ledger-table.ts';

/**
 * Console links and commands for one incident, built from the region, the application name and the incident id. Pure:
 * the region is passed in, nothing is read from the environment.
 *
 * URL formats are the AWS consoles' own deep links; they are not a documented API, so each builder says what it
 * assumes. All use the region-qualified console host of the partition (`<region>.console.aws.amazon.com`,
 * `console.amazonaws.cn` for China, `console.amazonaws-us-gov.com` for GovCloud).
 */

/** What the links are built from. */
export interface LinkContext {
  /** AWS Region of the application, e.g. `eu-west-1`. */
  region: string;
  /** MSF application name (`ApplicationName`). */
  applicationName: string;
  /** Incident id (the ledger's `INCIDENT#<id>` item). */
  incidentId: string;
  /** Name of the ledger's DynamoDB table; without it there is no incident console link, only the CLI command. */
  ledgerTableName?: string;
}

/** The links a notification offers. */
export interface IncidentLinks {
  /** The application's page in the Managed Service for Apache Flink console. */
  msfConsole: string;
  /** CloudWatch metrics of the application (namespace AWS/KinesisAnalytics, dimension Application). */
  metrics: string;
  /** The incident's ledger item in the DynamoDB console, when the table name is known. */
  incident?: string;
  /** The CLI command that shows the application's incidents and actions from the ledger. */
  historyCommand: string;
}

/** Region-qualified console origin of the region's partition, e.g. `https://eu-west-1.console.aws.amazon.com`. */
export function consoleOrigin(region: string): string {
  const r = encodeURIComponent(region);
  if (region.startsWith('cn-')) return `https://${r}.console.amazonaws.cn`;
  if (region.startsWith('us-gov-')) return `https://${r}.console.amazonaws-us-gov.com`;
  return `https://${r}.console.aws.amazon.com`;
}

/** ARN partition of a region: `aws`, `aws-cn` or `aws-us-gov`. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * The application's ARN, `arn:<partition>:kinesisanalytics:<region>:<account>:application/<name>` (the format
 * DescribeApplication returns in `ApplicationARN`).
 */
export function applicationArn(region: string, accountId: string, applicationName: string): string {
  return `arn:${partitionOf(region)}:kinesisanalytics:${region}:${accountId}:application/${applicationName}`;
}

/**
 * The application's page in the MSF console: `https://<region>.console.aws.amazon.com/flink/home?region=<region>#/applications/<name>`.
 * Assumption: the console's application list is `…/flink/home?region=<region>#/applications` (seen in AWS workshop
 * material); the per-application route appending `/<name>` is what public scripts link to, not a documented URL.
 */
export function msfConsoleUrl(region: string, applicationName: string): string {
  const r = encodeURIComponent(region);
  return `${consoleOrigin(region)}/flink/home?region=${r}#/applications/${encodeURIComponent(applicationName)}`;
}

/**
 * CloudWatch metrics console searching namespace AWS/KinesisAnalytics, dimension Application, for the application:
 * `…/cloudwatch/home?region=<region>#metricsV2:graph=~();query=~'{AWS/KinesisAnalytics,Application} <name>`, with
 * the query in the console's JSURL-style encoding (`*` followed by the hex code of each character other than letters,
 * digits, `-`, `.` and `_`; MSF names only use `[a-zA-Z0-9_.-]`). Assumption: the console's own URL format.
 */
export function metricsConsoleUrl(region: string, applicationName: string): string {
  const query = jsurlString(`{AWS/KinesisAnalytics,Application} ${applicationName}`);
  return `${consoleOrigin(region)}/cloudwatch/home?region=${encodeURIComponent(region)}#metricsV2:graph=~();query=~'${query}`;
}

/**
 * The incident's item in the DynamoDB console's item explorer (`pk` = `INCIDENT#<id>`, `sk` = `INCIDENT`, see
 * `LEDGER_TABLE`). Assumption: the console's `#edit-item?table=…&itemMode=2&pk=…&sk=…` route.
 */
export function ledgerItemUrl(region: string, tableName: string, incidentId: string): string {
  const params = new URLSearchParams({
    itemMode: '2',
    pk: `INCIDENT#${incidentId}`,
    route: 'ROUTE_ITEM_EXPLORER',
    sk: INCIDENT_SORT_KEY,
    table: tableName,
  });
  return `${consoleOrigin(region)}/dynamodbv2/home?region=${encodeURIComponent(region)}#edit-item?${params.toString()}`;
}

/** `flink-watchdog history --app <name>`: the application's incidents and actions from the ledger. */
export function historyCommand(applicationName: string): string {
  return `flink-watchdog history --app ${applicationName}`;
}

/** All links of one incident. */
export function incidentLinks(ctx: LinkContext): IncidentLinks {
  return {
    msfConsole: msfConsoleUrl(ctx.region, ctx.applicationName),
    metrics: metricsConsoleUrl(ctx.region, ctx.applicationName),
    ...(ctx.ledgerTableName ? { incident: ledgerItemUrl(ctx.region, ctx.ledgerTableName, ctx.incidentId) } : {}),
    historyCommand: historyCommand(ctx.applicationName),
  };
}

/** The links of a notification's incident, for a rendering that knows the region (and maybe the ledger table). */
export function notificationLinks(
  n: { incident: { applicationName: string; id: string } },
  ctx: { region: string; ledgerTableName?: string },
): IncidentLinks {
  return incidentLinks({
    region: ctx.region,
    applicationName: n.incident.applicationName,
    incidentId: n.incident.id,
    ...(ctx.ledgerTableName ? { ledgerTableName: ctx.ledgerTableName } : {}),
  });
}

/** JSURL-style string escaping used in CloudWatch console fragments: `*` + 2 hex digits (or `**` + 4 for > 0xff). */
function jsurlString(s: string): string {
  return s.replace(/[^A-Za-z0-9\-._]/g, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x100 ? `*${code.toString(16).padStart(2, '0')}` : `**${code.toString(16).padStart(4, '0')}`;
  });
}

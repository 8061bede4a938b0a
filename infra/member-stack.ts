import {
  Aws,
  CfnCondition,
  CfnOutput,
  CfnParameter,
  type CfnResource,
  Duration,
  Fn,
  type IResolvable,
  LegacyStackSynthesizer,
  Stack,
  type StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import { EventBus, Match, Rule } from 'aws-cdk-lib/aws-events';
import { EventBus as EventBusTarget } from 'aws-cdk-lib/aws-events-targets';
import {
  AccountPrincipal,
  type CfnRole,
  Policy,
  PolicyDocument,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { DEFAULT_MEMBER_ROLE_NAME, MEMBER_SESSION_SECONDS } from '#shared/adapters/accounts.ts';
import { ALARM_PREFIX } from '#shared/alarms.ts';
import { ALARM_STATE_CHANGE_DETAIL_TYPE } from '#shared/events/alarm-state-change.ts';
import {
  CLOUDTRAIL_API_CALL_DETAIL_TYPE,
  MSF_CHANGE_EVENT_NAMES,
  MSF_EVENT_SOURCE,
} from '#shared/events/cloudtrail.ts';

/**
 * `detail-type` of the events CloudWatch sends when a contributor of a multi-time-series alarm changes state
 * (https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-cloudwatch.html). Assumption: its `detail.alarmName`
 * names the alarm as in "CloudWatch Alarm State Change" events, so one prefix matches both.
 */
export const ALARM_CONTRIBUTOR_STATE_CHANGE_DETAIL_TYPE = 'CloudWatch Alarm Contributor State Change';

/** MSF actions that only read: the central watchdog's observe step in a member account. */
export const MEMBER_MSF_READ_ACTIONS = [
  'kinesisanalytics:DescribeApplication',
  'kinesisanalytics:DescribeApplicationOperation',
  'kinesisanalytics:DescribeApplicationVersion',
  'kinesisanalytics:DescribeApplicationSnapshot',
  'kinesisanalytics:ListApplicationOperations',
  'kinesisanalytics:ListApplicationSnapshots',
  'kinesisanalytics:ListApplicationVersions',
  'kinesisanalytics:ListTagsForResource',
] as const;

/** MSF actions that change an application: allowed only on applications carrying the opt-in tag. */
export const MEMBER_MSF_MUTATING_ACTIONS = [
  'kinesisanalytics:StartApplication',
  'kinesisanalytics:StopApplication',
  'kinesisanalytics:UpdateApplication',
  'kinesisanalytics:RollbackApplication',
  'kinesisanalytics:CreateApplicationSnapshot',
] as const;

/**
 * CloudWatch actions the alarm manager needs on the instance's own alarms (PutMetricAlarm with Tags needs TagResource).
 * PutMetricAlarm is granted only with {@link NO_ALARM_ACTIONS_CONDITION}.
 */
export const MEMBER_ALARM_ACTIONS = [
  'cloudwatch:PutMetricAlarm',
  'cloudwatch:DeleteAlarms',
  'cloudwatch:TagResource',
  'cloudwatch:ListTagsForResource',
] as const;

/**
 * The condition on `cloudwatch:PutMetricAlarm`: the request sets no alarm action. `cloudwatch:AlarmActions` is the
 * CloudWatch condition key for the actions an alarm performs when its state changes (to ALARM, OK or
 * INSUFFICIENT_DATA) (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-alarm-actions.html;
 * key listed for PutMetricAlarm in https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
 * `Null: true` holds only when the key is absent from the request, i.e. no action at all
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null).
 * The watchdog's alarms have no actions (EventBridge reads their state changes), so a holder of the role cannot attach
 * an SNS, Auto Scaling, EC2 or Systems Manager action to an alarm it creates.
 */
export const NO_ALARM_ACTIONS_CONDITION = { Null: { 'cloudwatch:AlarmActions': 'true' } } as const;

/**
 * Default name of the central watchdog's stack (infra/bin/app.ts, context `stackName`): its function roles' names begin
 * with it.
 */
export const DEFAULT_CENTRAL_STACK_NAME = 'FlinkWatchdog';

/**
 * How many characters of the central stack's name begin the names CloudFormation generates for its roles. The central
 * function roles have no RoleName, so CloudFormation names them ("If you don't specify a name, AWS CloudFormation
 * generates a unique physical ID and uses that ID for the role name",
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-role.html; the pattern is
 * `<stack name>-<logical ID>-<random>`, https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html).
 * Assumption (AWS documents no truncation rule): a name longer than IAM's 64 characters is cut by keeping 13 characters
 * for the random tail and its hyphen and sharing the other 50 between the stack name and the logical ID, the stack name
 * keeping at most 25 when the logical ID is as long (the central roles' logical IDs are over 25 characters, e.g.
 * `FlinkWatchdogDetectorRole03EEBF66`). Inferred from role names CloudFormation generated for a 26-character stack name,
 * which kept 25 of them.
 */
export const GENERATED_ROLE_NAME_STACK_CHARS = 25;

/**
 * The beginning of the central function roles' names for a central stack named `stackName`: its first
 * {@link GENERATED_ROLE_NAME_STACK_CHARS} characters (see there).
 */
export function centralRoleNamePrefix(stackName: string): string {
  return stackName.slice(0, GENERATED_ROLE_NAME_STACK_CHARS);
}

/**
 * Actions granted on `*`. ListApplications, GetResources and GetMetricData support no resource-level permission
 * (Service Authorization Reference). DescribeAlarms is listed with the alarm resource type, but the watchdog lists by
 * AlarmNamePrefix and the API reference documents only the `*` scope for such a listing ("you must be signed on with
 * the cloudwatch:DescribeAlarms permission that is scoped to *" for composite alarms,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html): an assumption kept on the
 * safe side of working; it reads alarm definitions only.
 */
export const MEMBER_UNSCOPED_ACTIONS = [
  'kinesisanalytics:ListApplications',
  'tag:GetResources',
  'cloudwatch:GetMetricData',
  'cloudwatch:DescribeAlarms',
  'logs:GetQueryResults',
] as const;

/**
 * CloudWatch Logs actions the central watchdog reads a looping application's first exception with (root cause,
 * shared/domain/root-cause.ts), on the log groups MSF's console creates (`/aws/kinesis-analytics/NAME`): both are
 * authorized on the `log-group` resource
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
 */
export const MEMBER_LOG_READ_ACTIONS = ['logs:StartQuery', 'logs:FilterLogEvents'] as const;

/** The log groups the member role may read: those MSF's console creates for an application. */
export const MEMBER_LOG_GROUP_PATTERN = '/aws/kinesis-analytics/*';

/** Props of {@link FlinkWatchdogMember} that cannot work as given. */
export class FlinkWatchdogMemberPropsError extends Error {
  override readonly name = 'FlinkWatchdogMemberPropsError';
}

/** Properties of {@link FlinkWatchdogMember}. Values may be CloudFormation parameters (tokens) unless said otherwise. */
export interface FlinkWatchdogMemberProps {
  /** The central (operations) account the watchdog runs in: the only account that may assume the member role. */
  readonly centralAccountId: string;
  /**
   * The central watchdog's Region: alarm and CloudTrail events go to the default event bus there.
   * @default - this stack's Region
   */
  readonly centralRegion?: string;
  /**
   * The central watchdog's CloudFormation stack name (or its first {@link GENERATED_ROLE_NAME_STACK_CHARS} characters):
   * only roles of the central account whose names begin with `<name>-`, the roles CloudFormation generates for that
   * stack's functions, may assume the member role (`aws:PrincipalArn`). A literal longer than that is cut to it.
   * @default 'FlinkWatchdog'
   */
  readonly centralStackName?: string;
  /** The ExternalId the central watchdog passes to AssumeRole (`fleet.accounts[].externalId`): `sts:ExternalId`. */
  readonly externalId: string;
  /** The central watchdog's instance id: only alarms named `flink-watchdog-<instance>-*` are forwarded and managed. */
  readonly instance: string;
  /**
   * The opt-in tag key (the config's `optInTag.key`). It names the IAM condition key `aws:ResourceTag/<key>`, and
   * CloudFormation cannot put a parameter into a JSON key, so it must be a literal, known at synth.
   */
  readonly optInTagKey: string;
  /**
   * The `OptInTagKey` parameter (always equal to `optInTagKey`), named in the role's description so that the template
   * uses it.
   * @default - `optInTagKey`
   */
  readonly optInTagKeyParameter?: string;
  /** The opt-in tag value (the config's `optInTag.value`): mutations need `aws:ResourceTag/<key>` equal to it. */
  readonly optInTagValue: string;
  /**
   * The AWS Organizations id (`o-...`) the central account must belong to (`aws:PrincipalOrgID`). A token whose
   * value may be empty (a parameter) adds the condition only when it is not empty.
   * @default - no organization condition
   */
  readonly organizationId?: string;
  /**
   * Name of the member role (`fleet.accounts[].roleName` on the central side).
   * @default 'FlinkWatchdogMember'
   */
  readonly roleName?: string;
  /**
   * A condition for the member role: IAM roles are global, so with a member stack in several Regions of one account
   * only one of them creates the role (it serves every Region: its statements name any Region).
   * @default - the role is always created
   */
  readonly roleCondition?: CfnCondition;
  /**
   * Whether the central watchdog may change (start, stop, update, roll back, snapshot) the opted-in applications of
   * this account: `true`, `false`, or a condition (the member stack's `AllowChanges` parameter). Give it only when the
   * central config may change applications of this account: some of them in remediate mode (listed, or through the
   * opt-in tag when its `defaults.mode` is remediate), or `runbooks` configured (commands act on any watched
   * application). Without it the member role only reads: observe mode enforced by IAM.
   * @default false
   */
  readonly allowChanges?: boolean | CfnCondition;
}

/**
 * What a member account (one account × Region) needs so that a central Flink Watchdog can watch and remediate its MSF
 * applications:
 * - `forwardingRule`: an EventBridge rule on the member's default bus sending the instance's alarms' transitions to ALARM
 *   (single-metric and contributor), and the MSF API calls seen through CloudTrail that change an application, to
 *   the central account's default bus (the central stack's bus policy lets the member account put events there);
 *   the target's role may put events on that bus only. Events keep their `account` and `region`, so the central
 *   detector knows which application key they are about.
 * - `role`: the role the central functions assume with STS AssumeRole (shared/adapters/accounts.ts): only roles of the
 *   central account named like the central stack's function roles (`aws:PrincipalArn`), only with the ExternalId (and
 *   the organization when given), sessions of at most one hour; it may read MSF applications, list them and their
 *   tags, read metrics and alarms, manage the instance's alarms (with no alarm actions), and, only with
 *   `allowChanges`, change (start, stop, update, roll back, snapshot) ONLY applications carrying the opt-in tag (the
 *   separate policy `changesPolicy`).
 */
export class FlinkWatchdogMember extends Construct {
  /** The member role the central watchdog assumes. */
  readonly role: Role;
  /** The rule forwarding alarm and CloudTrail events to the central bus. */
  readonly forwardingRule: Rule;
  /** The policy letting the member role change opted-in applications; only with `allowChanges`. */
  readonly changesPolicy?: Policy;

  /** @throws FlinkWatchdogMemberPropsError when `optInTagKey` is a token or a literal value is malformed. */
  constructor(scope: Construct, id: string, props: FlinkWatchdogMemberProps) {
    validate(props);
    super(scope, id);
    const stack = Stack.of(this);
    const centralRegion = props.centralRegion ?? Aws.REGION;
    const alarmPrefix = `${ALARM_PREFIX}${props.instance}-`;

    // (a) Forwarding. A rule whose target is an event bus in another account needs a role
    // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html); cross-Region bus targets are
    // supported (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html).
    const centralBusArn = `arn:${Aws.PARTITION}:events:${centralRegion}:${props.centralAccountId}:event-bus/default`;
    // The target grants its role events:PutEvents on the central bus only (EventBus target, aws-events-targets).
    const forwardingRole = new Role(this, 'ForwardingRole', {
      assumedBy: new ServicePrincipal('events.amazonaws.com'),
      description: 'Flink Watchdog member: EventBridge puts the forwarded events on the central default bus',
    });
    const centralBus = EventBus.fromEventBusArn(this, 'CentralBus', centralBusArn);
    this.forwardingRule = new Rule(this, 'ForwardingRule', {
      description: `Flink Watchdog member: transitions to ALARM of ${ALARM_PREFIX}<instance>-* and MSF API calls → central bus`,
      eventPattern: {
        // One rule for both kinds: EventBridge patterns OR across fields with `$or`
        // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
        source: ['aws.cloudwatch', MSF_EVENT_SOURCE],
        detailType: [
          ALARM_STATE_CHANGE_DETAIL_TYPE,
          ALARM_CONTRIBUTOR_STATE_CHANGE_DETAIL_TYPE,
          CLOUDTRAIL_API_CALL_DETAIL_TYPE,
        ],
        detail: {
          $or: [
            // Transitions to ALARM only: the central detector ignores the others.
            { alarmName: Match.prefix(alarmPrefix), state: { value: ['ALARM'] } },
            { eventSource: ['kinesisanalytics.amazonaws.com'], eventName: [...MSF_CHANGE_EVENT_NAMES] },
          ],
        },
      },
      targets: [new EventBusTarget(centralBus, { role: forwardingRole })],
    });

    // (b) The member role.
    const partition = Aws.PARTITION;
    const account = Aws.ACCOUNT_ID;
    const applications = `arn:${partition}:kinesisanalytics:*:${account}:application/*`;
    const alarms = `arn:${partition}:cloudwatch:*:${account}:alarm:${alarmPrefix}*`;
    const logGroups = `arn:${partition}:logs:*:${account}:log-group:${MEMBER_LOG_GROUP_PATTERN}`;
    this.role = new Role(this, 'Role', {
      roleName: props.roleName ?? DEFAULT_MEMBER_ROLE_NAME,
      description: `Flink Watchdog member: the central watchdog (instance ${props.instance}) reads MSF applications; when changes are allowed, it changes only those tagged ${props.optInTagKeyParameter ?? props.optInTagKey}=${props.optInTagValue}`,
      assumedBy: new AccountPrincipal(props.centralAccountId).withConditions(trustConditions(props)),
      // The AssumeRole API refuses a session longer than the role's maximum
      // (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-settings.html#id_roles_update-session-duration).
      maxSessionDuration: Duration.seconds(MEMBER_SESSION_SECONDS),
      inlinePolicies: {
        FlinkWatchdogMember: new PolicyDocument({
          statements: [
            new PolicyStatement({ sid: 'MsfRead', actions: [...MEMBER_MSF_READ_ACTIONS], resources: [applications] }),
            new PolicyStatement({
              sid: 'InstanceAlarmsPut',
              actions: MEMBER_ALARM_ACTIONS.filter((a) => a === 'cloudwatch:PutMetricAlarm'),
              resources: [alarms],
              conditions: NO_ALARM_ACTIONS_CONDITION,
            }),
            new PolicyStatement({
              sid: 'InstanceAlarms',
              actions: MEMBER_ALARM_ACTIONS.filter((a) => a !== 'cloudwatch:PutMetricAlarm'),
              resources: [alarms],
            }),
            new PolicyStatement({ sid: 'Unscoped', actions: [...MEMBER_UNSCOPED_ACTIONS], resources: ['*'] }),
            new PolicyStatement({
              sid: 'RootCauseLogs',
              actions: [...MEMBER_LOG_READ_ACTIONS],
              resources: [logGroups, `${logGroups}:*`],
            }),
          ],
        }),
      },
    });
    const cfnRole = this.role.node.defaultChild as CfnRole;
    if (props.roleCondition) (cfnRole as CfnResource).cfnOptions.condition = props.roleCondition;
    this.#organizationCondition(cfnRole, props);

    const allowChanges = props.allowChanges ?? false;
    if (allowChanges !== false) {
      this.changesPolicy = new Policy(this, 'ChangesPolicy', {
        roles: [this.role],
        statements: [
          // Tag-based authorization on MSF applications ("ABAC (tags in policies): Yes",
          // https://docs.aws.amazon.com/managed-flink/latest/java/security_iam_service-with-iam.html): aws:ResourceTag/
          // is a condition key of the application resource type
          // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonkinesisanalyticsv2.html).
          new PolicyStatement({
            sid: 'MsfMutateOptedIn',
            actions: [...MEMBER_MSF_MUTATING_ACTIONS],
            resources: [applications],
            conditions: { StringEquals: { [`aws:ResourceTag/${props.optInTagKey}`]: props.optInTagValue } },
          }),
        ],
      });
      // The policy exists only with the role (roleCondition) and only when changes are allowed.
      const conditions = [props.roleCondition, allowChanges === true ? undefined : allowChanges].filter(
        (c): c is CfnCondition => c !== undefined,
      );
      const condition =
        conditions.length < 2
          ? conditions[0]
          : new CfnCondition(this, 'GrantsChanges', { expression: Fn.conditionAnd(...conditions) });
      if (condition) (this.changesPolicy.node.defaultChild as CfnResource).cfnOptions.condition = condition;
      Validations.of(this.changesPolicy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kinesisanalytics:*:<AWS::AccountId>:application/*]`,
        reason:
          'Changes on application/* are limited by an aws:ResourceTag condition on the opt-in tag: only applications carrying it. Any Region: one role serves every Region of the account.',
      });
    }

    Validations.of(this.role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kinesisanalytics:*:<AWS::AccountId>:application/*]`,
        reason:
          'The central watchdog reads every MSF application of the account (scope is decided by its config and the opt-in tag, which need these reads); mutations on application/* are limited by an aws:ResourceTag condition on the opt-in tag. Any Region: one role serves every Region of the account.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'kinesisanalytics:ListApplications, tag:GetResources, cloudwatch:GetMetricData and logs:GetQueryResults support no resource-level permissions; cloudwatch:DescribeAlarms (read-only) lists by name prefix, for which the API reference documents the * scope.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:*:<AWS::AccountId>:log-group:${MEMBER_LOG_GROUP_PATTERN}]`,
        reason:
          "The log groups MSF's console creates for its applications (/aws/kinesis-analytics/NAME), read only (StartQuery, FilterLogEvents) for a looping application's first exception; any Region: one role serves every Region of the account.",
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:*:<AWS::AccountId>:log-group:${MEMBER_LOG_GROUP_PATTERN}:*]`,
        reason:
          "The log streams of the log groups MSF's console creates (CloudWatch Logs actions on a log group are granted on GROUP:*), read only.",
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:*:<AWS::AccountId>:alarm:${alarmPattern(props.instance, stack)}*]`,
        reason:
          "Only the central watchdog instance's own alarms (its name prefix), which it creates and deletes itself; any Region: one role serves every Region of the account.",
      },
    );
  }

  /** Adds `aws:PrincipalOrgID` to the trust policy's condition: always for a literal id, for a token only when not empty. */
  #organizationCondition(cfnRole: CfnRole, props: FlinkWatchdogMemberProps): void {
    const org = props.organizationId;
    if (org === undefined || (!Token.isUnresolved(org) && org === '')) return;
    const { StringEquals, ...others } = trustConditions(props);
    const withOrg = { StringEquals: { ...StringEquals, 'aws:PrincipalOrgID': org }, ...others };
    if (!Token.isUnresolved(org)) {
      cfnRole.addPropertyOverride('AssumeRolePolicyDocument.Statement.0.Condition', withOrg);
      return;
    }
    const hasOrganization = new CfnCondition(this, 'HasOrganization', {
      expression: Fn.conditionNot(Fn.conditionEquals(org, '')),
    });
    const condition: IResolvable = Fn.conditionIf(hasOrganization.logicalId, withOrg, trustConditions(props));
    cfnRole.addPropertyOverride('AssumeRolePolicyDocument.Statement.0.Condition', condition);
  }
}

/**
 * The trust policy's conditions but the organization: the ExternalId (`sts:ExternalId`,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html) and the caller's role
 * (`aws:PrincipalArn`, which for a role session is the ARN of the role, not of the session,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn):
 * a role of the central account named `<central stack name>-*` (see {@link GENERATED_ROLE_NAME_STACK_CHARS}), so that
 * another principal of the central account holding the ExternalId (it is in the bundled config) cannot assume the
 * member role. The CDK roles have the path `/`, so their ARN is `...:role/<name>`.
 */
function trustConditions(props: FlinkWatchdogMemberProps): {
  StringEquals: Record<string, string>;
  ArnLike: Record<string, string>;
} {
  const stackName = props.centralStackName ?? DEFAULT_CENTRAL_STACK_NAME;
  const prefix = Token.isUnresolved(stackName) ? stackName : centralRoleNamePrefix(stackName);
  return {
    StringEquals: { 'sts:ExternalId': props.externalId },
    ArnLike: { 'aws:PrincipalArn': `arn:${Aws.PARTITION}:iam::${props.centralAccountId}:role/${prefix}-*` },
  };
}

/** The alarm name prefix as cdk-nag prints it in a finding id (a parameter appears as `<LogicalId>`). */
function alarmPattern(instance: string, stack: Stack): string {
  if (!Token.isUnresolved(instance)) return `${ALARM_PREFIX}${instance}-`;
  const resolved = stack.resolve(instance) as { Ref?: string };
  return `${ALARM_PREFIX}<${resolved.Ref ?? 'Instance'}>-`;
}

/**
 * A CloudFormation stack name: "can contain only alphanumeric characters (case-sensitive) and hyphens. It must start
 * with an alphabetic character and can't be longer than 128 characters"
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html).
 */
const CENTRAL_STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

function validate(props: FlinkWatchdogMemberProps): void {
  const problems: string[] = [];
  if (Token.isUnresolved(props.optInTagKey)) {
    problems.push(
      'optInTagKey: must be a literal (it names the IAM condition key aws:ResourceTag/<key>, and CloudFormation cannot put a parameter into a key)',
    );
  } else if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u.test(props.optInTagKey) || props.optInTagKey.startsWith('aws:')) {
    problems.push(`optInTagKey: "${props.optInTagKey}" is not a tag key (1-128 characters, not starting with aws:)`);
  }
  const literal = (field: string, value: string | undefined, pattern: RegExp, what: string) => {
    if (value !== undefined && !Token.isUnresolved(value) && !pattern.test(value)) {
      problems.push(`${field}: "${value}" is not ${what}`);
    }
  };
  literal('centralAccountId', props.centralAccountId, /^\d{12}$/, 'a 12-digit AWS account id');
  literal('externalId', props.externalId, /^[\w+=,.@:/-]{2,1224}$/, 'an STS ExternalId (2-1224 of [\\w+=,.@:/-])');
  literal('instance', props.instance, /^[A-Za-z0-9]{1,32}$/, 'an instance id (1-32 letters and digits)');
  literal('organizationId', props.organizationId, /^(o-[a-z0-9]{10,32})?$/, 'an AWS Organizations id (o-...)');
  literal(
    'centralStackName',
    props.centralStackName,
    CENTRAL_STACK_NAME,
    'a CloudFormation stack name (a letter, then letters, digits and hyphens, at most 128 characters)',
  );
  if (problems.length > 0) throw new FlinkWatchdogMemberPropsError(`FlinkWatchdogMember: ${problems.join('; ')}`);
}

/** Properties of {@link FlinkWatchdogMemberStack}: synth-time values and the parameters' defaults. */
export interface FlinkWatchdogMemberStackProps extends StackProps {
  /**
   * The opt-in tag key, fixed at synth (see {@link FlinkWatchdogMemberProps.optInTagKey}); the `OptInTagKey`
   * parameter allows only this value.
   * @default 'flink-watchdog'
   */
  readonly optInTagKey?: string;
  /**
   * Defaults of the parameters (e.g. from `cdk deploy -c ...`); a parameter without a default must be given at deploy
   * (a StackSet's parameters).
   * @default - no defaults but CentralStackName, OptInTagKey, OrganizationId, CentralRegion, RoleRegion and RoleName
   */
  readonly parameterDefaults?: {
    readonly centralAccountId?: string;
    /** The central stack's name; cut to its first {@link GENERATED_ROLE_NAME_STACK_CHARS} characters. */
    readonly centralStackName?: string;
    readonly externalId?: string;
    readonly instance?: string;
    readonly optInTagValue?: string;
    readonly organizationId?: string;
    readonly centralRegion?: string;
    readonly roleRegion?: string;
    readonly roleName?: string;
    /** `true` or `false` (see the `AllowChanges` parameter). */
    readonly allowChanges?: string;
  };
}

/** Default opt-in tag key of the member stack: the key of the example config's `optInTag`. */
export const DEFAULT_OPT_IN_TAG_KEY = 'flink-watchdog';

/**
 * One member account and Region, as a CloudFormation template that works both with `cdk deploy` (parameter defaults
 * from context) and as a StackSet (parameters, no context). Parameters:
 * - `CentralAccountId` (12 digits), `ExternalId`, `Instance` (the central watchdog's instance id);
 * - `CentralStackName` (default FlinkWatchdog; at most 25 characters: a longer stack name is given by its first 25):
 *   only the central account's roles named `<CentralStackName>-*` may assume the member role;
 * - `OptInTagKey` (fixed at synth: only its synthesized value is allowed), `OptInTagValue`;
 * - `OrganizationId` (optional, `o-...`: adds `aws:PrincipalOrgID` to the trust policy);
 * - `CentralRegion` (optional: the central watchdog's Region when it is not this stack's);
 * - `RoleRegion` (optional: with member stacks in several Regions of one account, the one Region that creates the
 *   role, IAM roles being global; empty: this Region creates it);
 * - `RoleName` (default FlinkWatchdogMember);
 * - `AllowChanges` (default `false`): `true` lets the central watchdog change (start, stop, update, roll back,
 *   snapshot) the opted-in applications; give it when the central config remediates applications of this account or
 *   has runbooks. With `false` the member role only reads (observe mode).
 * Creating the named role needs `CAPABILITY_NAMED_IAM`.
 */
export class FlinkWatchdogMemberStack extends Stack {
  readonly member: FlinkWatchdogMember;

  constructor(scope: Construct, id: string, props: FlinkWatchdogMemberStackProps = {}) {
    // A StackSet template stands alone: no CDK bootstrap needed in the member account (no BootstrapVersion parameter
    // or rule, no assets) and no CDKMetadata resource; `cdk deploy` deploys it inline with the CLI's credentials.
    super(scope, id, { synthesizer: new LegacyStackSynthesizer(), analyticsReporting: false, ...props });
    const d = props.parameterDefaults ?? {};
    const optInTagKey = props.optInTagKey ?? DEFAULT_OPT_IN_TAG_KEY;
    const param = (name: string, options: ConstructorParameters<typeof CfnParameter>[2]) =>
      new CfnParameter(this, name, { type: 'String', ...options });
    const region = '[a-z]{2}(-[a-z]+)+-\\d+';
    const centralAccountId = param('CentralAccountId', {
      description:
        'The central (operations) account where the Flink Watchdog runs: the only one allowed to assume the member role.',
      allowedPattern: '^\\d{12}$',
      constraintDescription: 'a 12-digit AWS account id',
      ...(d.centralAccountId !== undefined ? { default: d.centralAccountId } : {}),
    });
    const centralStackName = param('CentralStackName', {
      description: `The central watchdog's CloudFormation stack name (its first ${GENERATED_ROLE_NAME_STACK_CHARS} characters when longer): only the central account's roles named <CentralStackName>-*, the roles CloudFormation generates for that stack's functions, may assume the member role.`,
      allowedPattern: `^[A-Za-z][A-Za-z0-9-]{0,${GENERATED_ROLE_NAME_STACK_CHARS - 1}}$`,
      constraintDescription: `a CloudFormation stack name, or its first ${GENERATED_ROLE_NAME_STACK_CHARS} characters (generated role names keep no more of it): a letter, then letters, digits and hyphens`,
      default: centralRoleNamePrefix(d.centralStackName ?? DEFAULT_CENTRAL_STACK_NAME),
    });
    const externalId = param('ExternalId', {
      description: 'The ExternalId of this account in the central watchdog config (fleet.accounts[].externalId).',
      allowedPattern: '^[\\w+=,.@:/-]{2,1224}$',
      constraintDescription: 'an STS ExternalId: 2-1224 characters of [A-Za-z0-9_+=,.@:/-]',
      ...(d.externalId !== undefined ? { default: d.externalId } : {}),
    });
    const instance = param('Instance', {
      description: "The central watchdog's instance id (its WATCHDOG_INSTANCE; default there: its stack name).",
      allowedPattern: '^[A-Za-z0-9]{1,32}$',
      constraintDescription: 'an instance id: 1-32 letters and digits ([A-Za-z0-9])',
      ...(d.instance !== undefined ? { default: d.instance } : {}),
    });
    const tagKey = param('OptInTagKey', {
      description: `The opt-in tag key (optInTag.key of the central config). Fixed when the template is synthesized (cdk synth -c optInTagKey=...): IAM names the tag in the condition key.`,
      allowedValues: [optInTagKey],
      default: optInTagKey,
    });
    const tagValue = param('OptInTagValue', {
      description:
        'The opt-in tag value (optInTag.value of the central config): the central watchdog may change only applications carrying the tag with this value.',
      minLength: 0,
      maxLength: 256,
      ...(d.optInTagValue !== undefined ? { default: d.optInTagValue } : {}),
    });
    const organizationId = param('OrganizationId', {
      description: 'Optional: the AWS Organizations id (o-...) the central account belongs to (aws:PrincipalOrgID).',
      allowedPattern: '^(o-[a-z0-9]{10,32})?$',
      constraintDescription: 'empty, or an AWS Organizations id such as o-a1b2c3d4e5',
      default: d.organizationId ?? '',
    });
    const centralRegion = param('CentralRegion', {
      description: "Optional: the central watchdog's Region when it is not this stack's Region.",
      allowedPattern: `^(${region})?$`,
      constraintDescription: 'empty, or a Region name such as eu-west-1',
      default: d.centralRegion ?? '',
    });
    const roleRegion = param('RoleRegion', {
      description:
        'Optional: with member stacks in several Regions of this account, the one Region that creates the (global) member role. Empty: this Region creates it.',
      allowedPattern: `^(${region})?$`,
      constraintDescription: 'empty, or a Region name such as eu-west-1',
      default: d.roleRegion ?? '',
    });
    const roleName = param('RoleName', {
      description: 'Name of the member role (fleet.accounts[].roleName in the central config).',
      allowedPattern: '^[\\w+=,.@-]{1,64}$',
      constraintDescription: 'an IAM role name',
      default: d.roleName ?? DEFAULT_MEMBER_ROLE_NAME,
    });
    const allowChanges = param('AllowChanges', {
      description:
        'true lets the central watchdog change (start, stop, update, roll back, snapshot) the applications carrying the opt-in tag: give it when the central config puts applications of this account in remediate mode or has runbooks. false: the member role only reads (observe mode).',
      allowedValues: ['false', 'true'],
      default: d.allowChanges ?? 'false',
    });
    const allowsChanges = new CfnCondition(this, 'AllowsChanges', {
      expression: Fn.conditionEquals(allowChanges.valueAsString, 'true'),
    });
    const centralInOtherRegion = new CfnCondition(this, 'CentralRegionGiven', {
      expression: Fn.conditionNot(Fn.conditionEquals(centralRegion.valueAsString, '')),
    });
    const createsRole = new CfnCondition(this, 'CreatesRole', {
      expression: Fn.conditionOr(
        Fn.conditionEquals(roleRegion.valueAsString, ''),
        Fn.conditionEquals(roleRegion.valueAsString, Aws.REGION),
      ),
    });
    this.member = new FlinkWatchdogMember(this, 'Member', {
      centralAccountId: centralAccountId.valueAsString,
      centralStackName: centralStackName.valueAsString,
      centralRegion: Fn.conditionIf(centralInOtherRegion.logicalId, centralRegion.valueAsString, Aws.REGION).toString(),
      externalId: externalId.valueAsString,
      instance: instance.valueAsString,
      optInTagKey,
      optInTagKeyParameter: tagKey.valueAsString,
      optInTagValue: tagValue.valueAsString,
      organizationId: organizationId.valueAsString,
      roleName: roleName.valueAsString,
      roleCondition: createsRole,
      allowChanges: allowsChanges,
    });
    const roleArn = new CfnOutput(this, 'MemberRoleArn', {
      description: 'The role the central watchdog assumes (fleet.accounts[] in its config).',
      value: this.member.role.roleArn,
    });
    roleArn.condition = createsRole;
    new CfnOutput(this, 'ForwardingRuleArn', {
      description: 'The rule forwarding alarm and MSF CloudTrail events to the central bus.',
      value: this.member.forwardingRule.ruleArn,
    });
  }
}

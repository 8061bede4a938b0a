import type { AlarmSpec } from '#shared/alarms.ts';
import { ALARM_TAG_KEY } from '#shared/alarms.ts';
import type { AlarmsPort, ExistingAlarm } from '#shared/ports/alarms.ts';
import type { TaggedApplication, TaggingPort } from '#shared/ports/tagging.ts';

/** Tagging API fake: tags per application name of one cell, and a call log. */
export class FakeTagging implements TaggingPort {
  readonly tags = new Map<string, Record<string, string>>();
  readonly calls: string[] = [];

  constructor(
    readonly accountId = '123456789012',
    readonly region = 'eu-west-1',
  ) {}

  tag(name: string, key: string, value: string): this {
    this.tags.set(name, { ...(this.tags.get(name) ?? {}), [key]: value });
    return this;
  }

  untag(name: string, key: string): this {
    const t = { ...(this.tags.get(name) ?? {}) };
    delete t[key];
    this.tags.set(name, t);
    return this;
  }

  async taggedApplications(tag: { key: string; value: string }): Promise<TaggedApplication[]> {
    this.calls.push('GetResources');
    return [...this.tags]
      .filter(([, t]) => t[tag.key] === tag.value)
      .map(([name]) => ({
        name,
        arn: `arn:aws:kinesisanalytics:${this.region}:${this.accountId}:application/${name}`,
      }));
  }
}

/** One alarm the fake holds: the spec it was put with, its state and its tags. */
interface HeldAlarm {
  spec: AlarmSpec;
  state: ExistingAlarm['stateValue'];
  tags: Record<string, string>;
}

/**
 * CloudWatch alarm fake: PutMetricAlarm applies tags only on creation (as CloudWatch does), DescribeAlarms filters by
 * prefix, every call logged.
 */
export class FakeAlarms implements AlarmsPort {
  readonly alarms = new Map<string, HeldAlarm>();
  readonly calls: string[] = [];

  /** An alarm someone else made (another stack, a person): `tags` as given. */
  seed(spec: AlarmSpec, tags: Record<string, string>, state: ExistingAlarm['stateValue'] = 'OK'): this {
    this.alarms.set(spec.alarmName, { spec, tags, state });
    return this;
  }

  setState(name: string, state: ExistingAlarm['stateValue']): this {
    const a = this.alarms.get(name);
    if (!a) throw new Error(`no alarm ${name}`);
    a.state = state;
    return this;
  }

  names(): string[] {
    return [...this.alarms.keys()].sort();
  }

  async describeAlarms(prefix: string): Promise<ExistingAlarm[]> {
    this.calls.push(`DescribeAlarms ${prefix}`);
    return [...this.alarms.values()]
      .filter((a) => a.spec.alarmName.startsWith(prefix))
      .map((a) => {
        const { alarmName, applicationKey: _k, kind: _kind, ...definition } = a.spec;
        return {
          alarmName,
          alarmArn: `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${alarmName}`,
          stateValue: a.state,
          definition: structuredClone(definition),
        };
      });
  }

  async putAlarm(spec: AlarmSpec, instance: string): Promise<void> {
    this.calls.push(`PutMetricAlarm ${spec.alarmName}`);
    const held = this.alarms.get(spec.alarmName);
    this.alarms.set(spec.alarmName, {
      spec: structuredClone(spec),
      state: held?.state ?? 'INSUFFICIENT_DATA',
      tags: held ? held.tags : { [ALARM_TAG_KEY]: instance },
    });
  }

  async deleteAlarms(names: readonly string[]): Promise<void> {
    if (names.length > 100) throw new Error('DeleteAlarms takes at most 100 names');
    this.calls.push(`DeleteAlarms ${names.join(',')}`);
    for (const n of names) this.alarms.delete(n);
  }

  async alarmTags(alarmArn: string): Promise<Record<string, string>> {
    this.calls.push(`ListTagsForResource ${alarmArn}`);
    const name = alarmArn.split(':alarm:')[1] ?? '';
    return { ...(this.alarms.get(name)?.tags ?? {}) };
  }
}

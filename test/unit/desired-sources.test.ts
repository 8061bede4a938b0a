import { describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config/schema.ts';
import { loadDesiredStates, type TerraformReader } from '#shared/desired/sources.ts';
import type { TerraformReadResult } from '#shared/desired/terraform.ts';
import type { DesiredApplicationState } from '#shared/domain/desired.ts';
import { desiredFingerprint } from '#shared/domain/reconciler.ts';

const A = 'a.tfstate';
const B = 'b.tfstate';

/** A config watching `names` in the home account and Region. */
function configOf(...names: string[]) {
  return parseConfig({ schemaVersion: 1, applications: names.map((name) => ({ name })) });
}

/** A state declaring `names` (version 7, RUNNING), and `problems`. */
function stateOf(
  location: string,
  names: string[],
  problems: TerraformReadResult['problems'] = [],
): TerraformReadResult {
  const applications: DesiredApplicationState[] = names.map((name) => ({
    applicationName: name,
    source: { kind: 'terraform', location, address: `aws_kinesisanalyticsv2_application.${name}` },
    status: 'RUNNING',
    versionId: 7,
  }));
  return { location, applications, problems, sensitivePaths: {} };
}

/** A reader answering from `states` by source. */
function readerOf(states: Record<string, TerraformReadResult>): TerraformReader {
  return async (source) => states[source] ?? stateOf(source, []);
}

describe('Function: loadDesiredStates', () => {
  it('takes each application from the state that declares it, over the config', async () => {
    // Act
    const result = await loadDesiredStates(
      configOf('orders', 'payments'),
      readerOf({ [A]: stateOf(A, ['orders']), [B]: stateOf(B, ['payments']) }),
      [A, B],
    );

    // Assess
    expect(result.problems).toEqual([]);
    expect(result.states.map((s) => [s.applicationName, s.source.location, s.versionId])).toEqual([
      ['orders', A, 7],
      ['payments', B, 7],
    ]);
  });

  it('names an application absent from the one state', async () => {
    // Act
    const result = await loadDesiredStates(configOf('orders', 'payments'), readerOf({ [A]: stateOf(A, ['orders']) }), [
      A,
    ]);

    // Assess
    expect(result.problems).toEqual([
      { location: A, address: 'payments', message: `payments is watched but absent from ${A}` },
    ]);
  });

  it('names an application absent from every one of several states', async () => {
    // Act
    const result = await loadDesiredStates(
      configOf('orders', 'payments'),
      readerOf({ [A]: stateOf(A, ['orders']), [B]: stateOf(B, []) }),
      [A, B],
    );

    // Assess
    expect(result.problems).toEqual([
      {
        location: `${A}, ${B}`,
        address: 'payments',
        message: `payments is watched but absent from every Terraform state (${A}, ${B})`,
      },
    ]);
  });

  it('does not call an application absent when a state could not be read: the whole-state problem covers it', async () => {
    // Prepare
    const unreadable = stateOf(B, [], [{ location: B, message: `Terraform state ${B}: file not found` }]);

    // Act
    const result = await loadDesiredStates(
      configOf('orders', 'payments'),
      readerOf({ [A]: stateOf(A, ['orders']), [B]: unreadable }),
      [A, B],
    );

    // Assess: no address, so it concerns every application (the reconciler and the CLI compare none of them).
    expect(result.problems).toEqual([{ location: B, message: `Terraform state ${B}: file not found` }]);
  });

  it('addresses a resource problem to the watched application it names, never calling it absent', async () => {
    // Prepare
    const broken = stateOf(
      A,
      ['orders'],
      [
        {
          location: A,
          address: 'aws_kinesisanalyticsv2_application.payments',
          applicationName: 'payments',
          message: `Terraform state ${A}, aws_kinesisanalyticsv2_application.payments: attributes of application payments do not match`,
        },
      ],
    );

    // Act
    const result = await loadDesiredStates(configOf('orders', 'payments'), readerOf({ [A]: broken }), [A]);

    // Assess
    expect(result.problems).toEqual([
      {
        location: A,
        address: 'payments',
        message: `Terraform state ${A}, aws_kinesisanalyticsv2_application.payments: attributes of application payments do not match`,
      },
    ]);
    expect(result.states.find((s) => s.applicationName === 'payments')?.source.kind).toBe('config');
  });

  it('keeps the resource address of a problem about an application nobody watches', async () => {
    // Prepare
    const broken = stateOf(
      A,
      ['orders'],
      [{ location: A, address: 'aws_kinesisanalyticsv2_application.other', applicationName: 'other', message: 'm' }],
    );

    // Act
    const result = await loadDesiredStates(configOf('orders'), readerOf({ [A]: broken }), [A]);

    // Assess
    expect(result.problems).toEqual([
      { location: A, address: 'aws_kinesisanalyticsv2_application.other', message: 'm' },
    ]);
  });
});

describe('Function: desiredFingerprint', () => {
  const base: DesiredApplicationState = {
    applicationName: 'orders',
    source: { kind: 'terraform', location: A },
    code: { bucketArn: 'arn:aws:s3:::artifacts', fileKey: 'orders-1.jar' },
    environmentProperties: { kafka: { topic: 'orders' } },
  };

  it('changes when a nested declaration changes (a new code key, a new property key)', () => {
    expect(
      desiredFingerprint({ ...base, code: { bucketArn: 'arn:aws:s3:::artifacts', fileKey: 'orders-2.jar' } }),
    ).not.toBe(desiredFingerprint(base));
    expect(desiredFingerprint({ ...base, environmentProperties: { kafka: { topic: 'orders', group: 'g' } } })).not.toBe(
      desiredFingerprint(base),
    );
  });

  it('leaves property values out (it is stored, and a hash of a secret can be confirmed by guessing)', () => {
    expect(desiredFingerprint({ ...base, environmentProperties: { kafka: { topic: 'orders-v2' } } })).toBe(
      desiredFingerprint(base),
    );
  });

  it('does not depend on key order nor on where the state was read', () => {
    const reordered: DesiredApplicationState = {
      environmentProperties: { kafka: { topic: 'orders' } },
      code: { fileKey: 'orders-1.jar', bucketArn: 'arn:aws:s3:::artifacts' },
      source: { kind: 'terraform', location: B },
      applicationName: 'orders',
    };
    expect(desiredFingerprint(reordered)).toBe(desiredFingerprint(base));
  });
});

import { describe, expect, it } from 'vitest';
import type { CliProblem } from '#cli/context.ts';
import { driftTextLines, driftTotals, notComparable, observeApplications } from '#cli/drift.ts';
import type { DesiredApplicationState } from '#shared/domain/desired.ts';
import type { DriftReport } from '#shared/domain/drift.ts';
import type { MsfPort } from '#shared/ports/msf.ts';

const STATE = 'prod.tfstate';

function desired(applicationName: string): DesiredApplicationState {
  return { applicationName, source: { kind: 'config', location: 'watchdog config' } };
}

function problem(message: string, address?: string): CliProblem {
  return { kind: 'desired-state', location: STATE, ...(address === undefined ? {} : { address }), message };
}

function report(applicationName: string, o: Partial<DriftReport> = {}): DriftReport {
  return {
    applicationName,
    source: { kind: 'terraform', location: STATE },
    severity: 'none',
    fields: [],
    summary: '',
    ignoredDifferences: [],
    ...o,
  };
}

describe('Function: notComparable', () => {
  it('makes every application of the home account and Region not compared when a whole state cannot be read', () => {
    // Act
    const skip = notComparable(
      [desired('orders'), desired('payments'), desired('fraud@111122223333.eu-west-1')],
      [problem(`Terraform state ${STATE}: file not found`)],
    );

    // Assess: a Terraform state never declares a member account's application, so that one is still compared.
    expect([...skip.keys()]).toEqual(['orders', 'payments']);
    expect(skip.get('orders')).toEqual({
      applicationName: 'orders',
      location: STATE,
      reason: `Terraform state ${STATE}: file not found`,
    });
  });

  it('makes only the application a problem names not compared, and says what to do when it is absent', () => {
    // Act
    const skip = notComparable(
      [desired('orders'), desired('payments')],
      [problem(`payments is watched but absent from ${STATE}`, 'payments')],
    );

    // Assess
    expect([...skip.keys()]).toEqual(['payments']);
    expect(skip.get('payments')?.reason).toBe(
      `payments is watched but absent from ${STATE}: declare it in the Terraform configuration (or \`terraform import\` it), or check that the state is the right one (workspace, backend key)`,
    );
  });

  it('ignores problems that are not about a desired state', () => {
    // Act
    const skip = notComparable([desired('orders')], [{ kind: 'aws', location: 'msf', message: 'throttled' }]);

    // Assess
    expect(skip.size).toBe(0);
  });
});

describe('Function: driftTotals', () => {
  it('says "no drift" only when every watched application was compared', () => {
    expect(driftTotals([report('orders')], [], [])).toBe('Drift: 1 application compared, no drift.');
    expect(
      driftTotals([report('orders')], [{ applicationName: 'payments', location: STATE, reason: 'r' }], [problem('r')]),
    ).toBe('Drift: 1 application compared, 0 drifted, 1 not compared, 1 error.');
    expect(driftTotals([], [], [])).toBe('Drift: 0 applications compared, 0 drifted.');
  });
});

describe('Function: driftTextLines', () => {
  it('prints one tab-separated line per attribute difference, match and application not compared', () => {
    // Prepare
    const drifted = report('orders', {
      severity: 'configuration',
      fields: [
        {
          field: 'parallelism',
          severity: 'configuration',
          desired: '4',
          actual: '2',
          explanation: '',
          attributes: [{ path: 'p', change: 'changed', desired: '4', actual: '2' }],
        },
      ],
      terraform: { msfVersionId: 3, changed: 'msf', why: '', nextSteps: [] },
    });

    // Act
    const lines = driftTextLines(
      [drifted, report('payments')],
      [{ applicationName: 'fraud', location: STATE, reason: 'file\tnot found' }],
    );

    // Assess
    expect(lines).toEqual([
      'orders\tdrift\tconfiguration\tp\t4\t2\tmsf',
      'payments\tnone',
      'fraud\tnot-compared\tfile not found',
    ]);
  });
});

describe('Function: observeApplications', () => {
  it('makes no MSF call for applications not compared', async () => {
    // Prepare: every call fails the test.
    const calls: string[] = [];
    const msf = new Proxy({} as MsfPort, {
      get: (_target, name) => () => {
        calls.push(String(name));
        throw new Error(`unexpected MSF call ${String(name)}`);
      },
    });
    const states = [desired('orders'), desired('payments')];
    const skip = notComparable(states, [problem(`Terraform state ${STATE}: file not found`)]);

    // Act
    const observed = await observeApplications(msf, states, undefined, { skip });

    // Assess
    expect(calls).toEqual([]);
    expect(observed.map((o) => [o.desired.applicationName, o.notCompared?.reason, o.report])).toEqual([
      ['orders', `Terraform state ${STATE}: file not found`, undefined],
      ['payments', `Terraform state ${STATE}: file not found`, undefined],
    ]);
  });
});

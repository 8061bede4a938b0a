import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkError,
  checkOutput,
  checkShape,
  errorTypeName,
  loadServiceModel,
  MODEL_DIR,
  MODEL_FILES,
  ModelLoadError,
} from './model.ts';

/** The checker itself: it must find each kind of violation, or the conformance suite could not fail. */

const MSF = loadServiceModel(MODEL_FILES.kinesisanalyticsv2);
const CW = loadServiceModel(MODEL_FILES.cloudwatch);

const SUMMARY = {
  ApplicationName: 'orders',
  ApplicationARN: 'arn:aws:kinesisanalytics:eu-west-1:123456789012:application/orders',
  ApplicationStatus: 'RUNNING',
  ApplicationVersionId: 3,
  RuntimeEnvironment: 'FLINK-1_20',
  ApplicationMode: 'STREAMING',
};

describe('Function: loadServiceModel', () => {
  it('reads the vendored models of both services', () => {
    // Assess
    expect(MSF.metadata).toMatchObject({ apiVersion: '2018-05-23', targetPrefix: 'KinesisAnalytics_20180523' });
    expect(CW.metadata).toMatchObject({ apiVersion: '2010-08-01', targetPrefix: 'GraniteServiceVersion20100801' });
    expect(Object.keys(MSF.operations)).toContain('RollbackApplication');
    expect(Object.keys(CW.operations)).toContain('PutMetricAlarm');
  });

  it('reads the Tagging API (awsJson1_1) and STS (awsQuery, no target prefix) models', () => {
    // Act
    const tagging = loadServiceModel(MODEL_FILES.resourcegroupstaggingapi);
    const sts = loadServiceModel(MODEL_FILES.sts);
    // Assess
    expect(tagging.metadata).toMatchObject({
      apiVersion: '2017-01-26',
      targetPrefix: 'ResourceGroupsTaggingAPI_20170126',
    });
    expect(sts.metadata).toMatchObject({ apiVersion: '2011-06-15', protocol: 'query' });
    expect(Object.keys(sts.operations)).toContain('AssumeRole');
  });

  it('reads the files byte for byte as published (the sha256 sums of test/fixtures/aws-models/README.md)', () => {
    // Prepare
    const readme = readFileSync(`${MODEL_DIR}README.md`, 'utf8');

    // Act
    const sums = Object.values(MODEL_FILES).map((file) => ({
      file,
      recorded: new RegExp(`([0-9a-f]{64})\\s+${file.replaceAll('.', '\\.')}`).exec(readme)?.[1],
      actual: createHash('sha256')
        .update(readFileSync(`${MODEL_DIR}${file}`))
        .digest('hex'),
    }));

    // Assess
    for (const { file, recorded, actual } of sums) expect(recorded, file).toBe(actual);
  });

  it('fails with ModelLoadError naming the file when a model is missing, never an empty model', () => {
    // Act
    const load = () => loadServiceModel('no-such-service.service-2.json.gz');

    // Assess
    expect(load).toThrow(ModelLoadError);
    expect(load).toThrow(/no-such-service\.service-2\.json\.gz/);
  });
});

describe('Function: checkShape', () => {
  it('accepts a body that follows the model', () => {
    // Act
    const violations = checkOutput(MSF, 'ListApplications', { ApplicationSummaries: [SUMMARY], NextToken: 'abc' });

    // Assess
    expect(violations).toEqual([]);
  });

  it.each([
    [
      'a missing required member',
      { ...SUMMARY, ApplicationStatus: undefined },
      'required member ApplicationStatus is missing',
    ],
    ['a member that is not in the model', { ...SUMMARY, Colour: 'blue' }, 'member Colour is not in the model'],
    ['a value outside the enum', { ...SUMMARY, ApplicationStatus: 'HEALTHY' }, '"HEALTHY" is not one of'],
    ['a string where a long is due', { ...SUMMARY, ApplicationVersionId: '3' }, 'expected an long'],
    ['a fractional long', { ...SUMMARY, ApplicationVersionId: 3.5 }, 'expected an long'],
    ['a value below the range', { ...SUMMARY, ApplicationVersionId: 0 }, 'value 0 < min 1'],
    ['a string longer than max', { ...SUMMARY, ApplicationName: 'x'.repeat(129) }, 'length 129 > max 128'],
    ['a string that does not match the pattern', { ...SUMMARY, ApplicationName: 'not valid!' }, 'does not match'],
    ['a number where a string is due', { ...SUMMARY, ApplicationARN: 42 }, 'expected a string'],
  ])('reports %s', (_what, summary, expected) => {
    // Act
    const violations = checkOutput(MSF, 'ListApplications', { ApplicationSummaries: [summary] });

    // Assess
    expect(violations).toHaveLength(1);
    expect(violations[0]).toContain('$.ApplicationSummaries[0]');
    expect(violations[0]).toContain(expected);
  });

  it('checks timestamps as epoch seconds, booleans, maps and nested lists', () => {
    // Act
    const violations = checkShape(MSF, 'SnapshotDetails', {
      SnapshotName: 'snap',
      SnapshotStatus: 'READY',
      ApplicationVersionId: 1,
      SnapshotCreationTimestamp: '2026-03-02T14:00:00Z',
    });
    const property = checkShape(MSF, 'PropertyGroup', { PropertyGroupId: 'kafka', PropertyMap: [['topic', 'x']] });
    const flag = checkShape(MSF, 'ApplicationSnapshotConfigurationDescription', { SnapshotsEnabled: 'false' });

    // Assess
    expect(violations).toEqual([expect.stringContaining('expected a timestamp (epoch seconds number)')]);
    expect(property).toEqual([expect.stringContaining('expected a map')]);
    expect(flag).toEqual([expect.stringContaining('expected a boolean')]);
  });

  it('wants an empty object from an operation without output', () => {
    // Assess
    expect(checkOutput(CW, 'PutMetricAlarm', {})).toEqual([]);
    expect(checkOutput(CW, 'PutMetricAlarm', { ok: true })).toEqual([expect.stringContaining('has no output')]);
  });
});

describe('Function: checkError', () => {
  const headers = {};

  it('accepts an operation error with its HTTP status', () => {
    // Act
    const violations = checkError(MSF, 'DescribeApplication', {
      status: 400,
      headers,
      body: { __type: 'ResourceNotFoundException', message: 'Application x not found' },
    });

    // Assess
    expect(violations).toEqual([]);
  });

  it('reports an exception the operation does not document, unless it is a declared common error', () => {
    // Prepare
    const response = { status: 400, headers, body: { __type: 'ResourceInUseException', message: 'busy' } };

    // Act
    const strict = checkError(MSF, 'DescribeApplication', response);
    const common = checkError(MSF, 'DescribeApplication', response, { ResourceInUseException: 'documented' });

    // Assess
    expect(strict).toEqual([expect.stringContaining("is not one of DescribeApplication's errors")]);
    expect(common).toEqual([]);
  });

  it('reports an unknown exception name and a body without __type', () => {
    // Assess
    expect(checkError(MSF, 'DescribeApplication', { status: 400, headers, body: { __type: 'Oops' } })).toEqual([
      expect.stringContaining('Oops is not an exception'),
    ]);
    expect(checkError(MSF, 'DescribeApplication', { status: 400, headers, body: { message: 'x' } })).toEqual([
      expect.stringContaining('string __type'),
    ]);
  });

  it('wants the model HTTP status: 404 for CloudWatch ResourceNotFound, 500 for a server fault', () => {
    // Prepare
    const notFound = { __type: 'ResourceNotFound', message: 'no alarm' };
    const queryHeader = { 'x-amzn-query-error': 'ResourceNotFound;Sender' };

    // Act
    const wrong = checkError(CW, 'SetAlarmState', { status: 400, headers: queryHeader, body: notFound });
    const right = checkError(CW, 'SetAlarmState', { status: 404, headers: queryHeader, body: notFound });
    const fault = checkError(MSF, 'StartApplication', {
      status: 400,
      headers,
      body: { __type: 'ResourceInUseException' },
    });

    // Assess
    expect(wrong).toEqual(['HTTP status: ResourceNotFound is 404 in the model, got 400']);
    expect(right).toEqual([]);
    expect(fault).toEqual([]);
  });

  it('wants the query error code of a query-compatible service (CloudWatch) in x-amzn-query-error', () => {
    // Prepare
    const body = { __type: 'InvalidParameterValueException', message: 'bad' };

    // Act
    const wrong = checkError(CW, 'PutMetricData', {
      status: 400,
      headers: { 'x-amzn-query-error': 'InvalidParameterValueException;Sender' },
      body,
    });
    const right = checkError(CW, 'PutMetricData', {
      status: 400,
      headers: { 'x-amzn-query-error': 'InvalidParameterValue;Sender' },
      body,
    });

    // Assess
    expect(wrong).toEqual([expect.stringContaining('expected "InvalidParameterValue;Sender"')]);
    expect(right).toEqual([]);
  });

  it('reads the exception name from every __type form', () => {
    // Assess
    expect(errorTypeName('com.amazonaws.kinesisanalytics#ResourceNotFoundException')).toBe('ResourceNotFoundException');
    expect(errorTypeName('InvalidNextToken:http://internal.amazon.com/coral/')).toBe('InvalidNextToken');
    expect(errorTypeName('ResourceInUseException')).toBe('ResourceInUseException');
  });
});

import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  NoSuchBucket,
  NoSuchKey,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  findApplication,
  parseTerraformState,
  resourceAddress,
  type TerraformReadResult,
} from '#shared/desired/terraform.ts';
import {
  parseS3Location,
  readTerraformState,
  STDIN_LOCATION,
  TerraformStateReadError,
} from '#shared/desired/terraform-source.ts';
import type { DesiredApplicationState } from '#shared/domain/desired.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/tfstate/', import.meta.url));
const SEVERAL = 'several.tfstate.json';
const ORDERS = 'module.streaming.aws_kinesisanalyticsv2_application.app["orders"]';
const PAYMENTS = 'module.streaming.aws_kinesisanalyticsv2_application.app["payments"]';
const CLICKSTREAM = 'aws_kinesisanalyticsv2_application.clickstream';
const SERVICE_ROLE = 'arn:aws:iam::111122223333:role/streaming-flink';
const SESSIONIZER = 'module.analytics.module.legacy.aws_kinesisanalyticsv2_application.sessionizer[0]';

function fixture(name: string): string {
  return readFileSync(`${FIXTURES}${name}`, 'utf8');
}

/** several.tfstate.json as an object, to derive variants of one instance. */
interface StateJson {
  version: number;
  resources: Array<{ type: string; name: string; module?: string; instances: Array<Record<string, unknown>> }>;
}
function severalJson(): StateJson {
  return JSON.parse(fixture(SEVERAL)) as StateJson;
}

/** The attributes of `module.streaming...app["orders"]` in `state` (to edit in place). */
function ordersAttributes(state: StateJson): Record<string, unknown> {
  const resource = state.resources.find((r) => r.module === 'module.streaming' && r.name === 'app');
  const instance = resource?.instances.find((i) => i.index_key === 'orders');
  if (!instance) expect.fail('orders instance missing from the fixture');
  return instance.attributes as Record<string, unknown>;
}

/** `application_configuration[0]` of the orders attributes. */
function ordersConfig(state: StateJson): Record<string, unknown> {
  const configs = ordersAttributes(state).application_configuration as Array<Record<string, unknown>>;
  const config = configs[0];
  if (!config) expect.fail('orders has no application_configuration');
  return config;
}

/** `flink_application_configuration[0]` of the orders attributes. */
function ordersFlink(state: StateJson): Record<string, Array<Record<string, unknown>>> {
  const flink = (ordersConfig(state).flink_application_configuration as Array<Record<string, unknown>>)[0];
  if (!flink) expect.fail('orders has no flink_application_configuration');
  return flink as Record<string, Array<Record<string, unknown>>>;
}

function appNamed(result: TerraformReadResult, name: string): DesiredApplicationState {
  const found = result.applications.find((a) => a.applicationName === name);
  if (!found) expect.fail(`no application ${name} in ${result.applications.map((a) => a.applicationName).join(', ')}`);
  return found;
}

function parseEdited(edit: (state: StateJson) => void): TerraformReadResult {
  const state = severalJson();
  edit(state);
  return parseTerraformState(JSON.stringify(state), SEVERAL);
}

describe('Function: parseTerraformState', () => {
  describe('a real-format state with several resources (several.tfstate.json)', () => {
    it('reads every instance of aws_kinesisanalyticsv2_application and nothing else, in state order', () => {
      // Act
      const result = parseTerraformState(fixture(SEVERAL), SEVERAL);

      // Assess
      expect(result.problems).toEqual([]);
      expect(result.applications.map((a) => a.source.address)).toEqual([CLICKSTREAM, SESSIONIZER, ORDERS, PAYMENTS]);
      expect(result.applications.every((a) => a.source.kind === 'terraform' && a.source.location === SEVERAL)).toBe(
        true,
      );
    });

    it('maps every Terraform attribute of a CUSTOM-configured application onto the desired state', () => {
      // Act
      const result = parseTerraformState(fixture(SEVERAL), SEVERAL);

      // Assess
      expect(appNamed(result, 'orders-enrichment')).toEqual({
        applicationName: 'orders-enrichment',
        source: {
          kind: 'terraform',
          location: SEVERAL,
          address: ORDERS,
          format: 'state',
          sensitivePaths: ['application_configuration[0].environment_properties[0].property_group'],
          propertyGroupIndexes: { ConsumerConfigProperties: 0, SinkConfigProperties: 1 },
        },
        status: 'RUNNING',
        versionId: 7,
        runtimeEnvironment: 'FLINK-1_20',
        serviceExecutionRole: SERVICE_ROLE,
        code: {
          bucketArn: 'arn:aws:s3:::acme-flink-artifacts',
          fileKey: 'orders/orders-enrichment-1.4.2.jar',
          objectVersion: '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY',
        },
        snapshotsEnabled: true,
        environmentProperties: {
          ConsumerConfigProperties: {
            'aws.region': 'eu-west-1',
            'flink.stream.initpos': 'LATEST',
            'input.stream.name': 'orders',
          },
          SinkConfigProperties: {
            'jdbc.password': 'example-not-a-secret',
            'jdbc.url': 'jdbc:postgresql://orders-db.internal:5432/orders',
            'jdbc.user': 'flink',
          },
        },
        parallelism: 4,
        parallelismPerKPU: 2,
        autoScalingEnabled: true,
        logLevel: 'WARN',
        metricsLevel: 'TASK',
      } satisfies DesiredApplicationState);
    });

    it('builds addresses like Terraform: root, nested module with count, module with for_each', () => {
      // Act
      const result = parseTerraformState(fixture(SEVERAL), SEVERAL);

      // Assess
      expect(appNamed(result, 'clickstream-sessions').source.address).toBe(
        'aws_kinesisanalyticsv2_application.clickstream',
      );
      expect(appNamed(result, 'legacy-sessionizer').source.address).toBe(
        'module.analytics.module.legacy.aws_kinesisanalyticsv2_application.sessionizer[0]',
      );
      expect(appNamed(result, 'orders-enrichment').source.address).toBe(
        'module.streaming.aws_kinesisanalyticsv2_application.app["orders"]',
      );
      expect(appNamed(result, 'payments-aggregation').source.address).toBe(
        'module.streaming.aws_kinesisanalyticsv2_application.app["payments"]',
      );
    });

    it.each([
      { name: 'orders-enrichment', startApplication: 'true', status: 'RUNNING' },
      { name: 'clickstream-sessions', startApplication: 'false', status: 'READY' },
      { name: 'legacy-sessionizer', startApplication: 'null', status: undefined },
    ])('maps start_application $startApplication to desired status $status', ({ name, status }) => {
      // Act
      const result = parseTerraformState(fixture(SEVERAL), SEVERAL);

      // Assess
      expect(appNamed(result, name).status).toBe(status);
    });

    it('leaves parallelism, autoscaling, log and metrics level undeclared when configuration_type is DEFAULT', () => {
      // Act
      const payments = appNamed(parseTerraformState(fixture(SEVERAL), SEVERAL), 'payments-aggregation');

      // Assess
      expect(payments).not.toHaveProperty('parallelism');
      expect(payments).not.toHaveProperty('parallelismPerKPU');
      expect(payments).not.toHaveProperty('autoScalingEnabled');
      expect(payments).not.toHaveProperty('logLevel');
      expect(payments).not.toHaveProperty('metricsLevel');
      expect(payments).toMatchObject({ status: 'RUNNING', versionId: 12, runtimeEnvironment: 'FLINK-1_19' });
    });

    it('treats an empty object_version as no object version and an empty environment_properties as undeclared', () => {
      // Act
      const result = parseTerraformState(fixture(SEVERAL), SEVERAL);

      // Assess
      expect(appNamed(result, 'clickstream-sessions').code).toEqual({
        bucketArn: 'arn:aws:s3:::acme-flink-artifacts',
        fileKey: 'clickstream/clickstream-sessions-2.1.0.jar',
      });
      expect(appNamed(result, 'legacy-sessionizer')).not.toHaveProperty('environmentProperties');
      expect(appNamed(result, 'legacy-sessionizer').snapshotsEnabled).toBe(false);
    });

    it('keeps sensitive property values as they are and reports the sensitive paths by address', () => {
      // Act
      const result = parseTerraformState(fixture(SEVERAL), SEVERAL);

      // Assess
      expect(appNamed(result, 'payments-aggregation').environmentProperties?.ApplicationProperties).toMatchObject({
        'kafka.sasl.password': 'example-not-a-secret-either',
      });
      expect(result.sensitivePaths).toEqual({
        [ORDERS]: ['application_configuration[0].environment_properties[0].property_group'],
        [PAYMENTS]: ['application_configuration[0].environment_properties[0].property_group'],
      });
    });

    it('returns the state metadata: terraform_version, serial, lineage', () => {
      // Act
      const result = parseTerraformState(fixture(SEVERAL), SEVERAL);

      // Assess
      expect(result).toMatchObject({
        location: SEVERAL,
        terraformVersion: '1.9.8',
        serial: 42,
        lineage: '9c1e5b7a-3f2d-4e8b-a6c1-0d4f2b8e7a13',
      });
    });
  });

  describe('attribute variants', () => {
    it('reads application_system_rollback_configuration[0].rollback_enabled when the provider writes it', () => {
      // Act
      const result = parseEdited((s) => {
        ordersConfig(s).application_system_rollback_configuration = [{ rollback_enabled: true }];
      });

      // Assess
      expect(appNamed(result, 'orders-enrichment').systemRollbackEnabled).toBe(true);
      expect(appNamed(result, 'payments-aggregation')).not.toHaveProperty('systemRollbackEnabled');
    });

    it('declares no code when the code is text_content rather than an S3 location', () => {
      // Act
      const result = parseEdited((s) => {
        const code = ordersConfig(s).application_code_configuration as Array<Record<string, unknown>>;
        code[0] = {
          code_content: [{ s3_content_location: [], text_content: 'SELECT 1;' }],
          code_content_type: 'PLAINTEXT',
        };
      });

      // Assess
      expect(appNamed(result, 'orders-enrichment')).not.toHaveProperty('code');
    });

    it('declares parallelism and monitoring only when configuration_type is CUSTOM (absent is not CUSTOM)', () => {
      // Act
      const result = parseEdited((s) => {
        const flink = ordersFlink(s);
        delete flink.parallelism_configuration?.[0]?.configuration_type;
        flink.monitoring_configuration = [{ configuration_type: 'DEFAULT', log_level: 'DEBUG', metrics_level: 'TASK' }];
      });

      // Assess
      const orders = appNamed(result, 'orders-enrichment');
      expect(orders.parallelism).toBeUndefined();
      expect(orders.logLevel).toBeUndefined();
      expect(orders.metricsLevel).toBeUndefined();
    });

    it('declares no version when version_id is null (not yet created)', () => {
      // Act
      const result = parseEdited((s) => {
        ordersAttributes(s).version_id = null;
      });

      // Assess
      expect(appNamed(result, 'orders-enrichment')).not.toHaveProperty('versionId');
    });

    it('skips deposed objects (create_before_destroy leftovers)', () => {
      // Act
      const result = parseEdited((s) => {
        const resource = s.resources.find((r) => r.name === 'clickstream');
        const current = resource?.instances[0];
        if (!current) expect.fail('clickstream instance missing');
        resource?.instances.push({ ...current, deposed: '00000001' });
      });

      // Assess
      expect(result.applications.filter((a) => a.applicationName === 'clickstream-sessions')).toHaveLength(1);
      expect(result.problems).toEqual([]);
    });
  });

  describe('bad input: a clear finding naming the file and the problem, never a throw', () => {
    it('reports a corrupt (truncated) state file', () => {
      // Act
      const result = parseTerraformState(fixture('corrupt.tfstate'), 'corrupt.tfstate');

      // Assess
      expect(result.applications).toEqual([]);
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatchObject({ location: 'corrupt.tfstate' });
      expect(result.problems[0]?.message).toMatch(
        /^Terraform state corrupt\.tfstate: not valid JSON.*corrupt or truncated/,
      );
    });

    it('reports an empty file', () => {
      // Act
      const result = parseTerraformState('  \n', 'empty.tfstate');

      // Assess
      expect(result.problems.map((p) => p.message)).toEqual([
        expect.stringMatching(/empty\.tfstate: the file is empty/),
      ]);
    });

    it('refuses format version 3 with the reason and the command that fixes it', () => {
      // Act
      const result = parseTerraformState(fixture('version3.tfstate.json'), 'version3.tfstate.json');

      // Assess
      expect(result.applications).toEqual([]);
      expect(result.problems).toEqual([
        {
          location: 'version3.tfstate.json',
          message: expect.stringMatching(
            /^Terraform state version3\.tfstate\.json: state format version 3, written by Terraform 0\.11 or earlier; only state format version 4 .* is read\. Fix: .*`terraform show -json > state\.json`.*`terraform apply -refresh-only`/,
          ),
        },
      ]);
    });

    it('reports a format version newer than 4', () => {
      // Act
      const result = parseTerraformState(JSON.stringify({ version: 5, resources: [] }), 'future.tfstate');

      // Assess
      expect(result.problems[0]?.message).toMatch(
        /future\.tfstate: state format version 5 is newer than this reader; only state format version 4/,
      );
    });

    it.each([
      { content: '[]', finding: /not a Terraform state \(expected a JSON object\)/ },
      {
        content: '{"serial": 1}',
        finding: /not a Terraform state \(neither a format "version" nor a "format_version"\)/,
      },
      { content: '{"version": "4"}', finding: /unsupported state format version "4"/ },
      { content: '{"version": 4, "serial": 3, "lineage": "x"}', finding: /no "resources" array/ },
    ])('reports $content as $finding', ({ content, finding }) => {
      // Act
      const result = parseTerraformState(content, 'odd.tfstate');

      // Assess
      expect(result.applications).toEqual([]);
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]?.message).toMatch(/^Terraform state odd\.tfstate: /);
      expect(result.problems[0]?.message).toMatch(finding);
    });

    it('reports an instance without attributes by address and still reads the other instances', () => {
      // Act
      const result = parseEdited((s) => {
        const resource = s.resources.find((r) => r.name === 'app');
        const payments = resource?.instances.find((i) => i.index_key === 'payments');
        if (!payments) expect.fail('payments instance missing');
        delete payments.attributes;
      });

      // Assess
      expect(result.problems).toEqual([
        {
          location: SEVERAL,
          address: PAYMENTS,
          message: `Terraform state ${SEVERAL}, ${PAYMENTS}: the instance has no attributes`,
        },
      ]);
      expect(result.applications.map((a) => a.applicationName)).toEqual([
        'clickstream-sessions',
        'legacy-sessionizer',
        'orders-enrichment',
      ]);
    });

    it('reports an instance with only legacy flat attributes', () => {
      // Act
      const result = parseEdited((s) => {
        const resource = s.resources.find((r) => r.name === 'clickstream');
        const instance = resource?.instances[0];
        if (!instance) expect.fail('clickstream instance missing');
        delete instance.attributes;
        instance.attributes_flat = { name: 'clickstream-sessions' };
      });

      // Assess
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatchObject({ address: CLICKSTREAM });
      expect(result.problems[0]?.message).toMatch(/legacy flat attributes/);
    });

    it('reports an instance without a name attribute', () => {
      // Act
      const result = parseEdited((s) => {
        delete ordersAttributes(s).name;
      });

      // Assess
      expect(result.problems).toEqual([
        { location: SEVERAL, address: ORDERS, message: expect.stringMatching(/has no "name" attribute/) },
      ]);
      expect(result.applications).toHaveLength(3);
    });

    it('reports an attribute of the wrong type with its path, naming the application', () => {
      // Act
      const result = parseEdited((s) => {
        const parallelism = ordersFlink(s).parallelism_configuration?.[0];
        if (!parallelism) expect.fail('orders has no parallelism_configuration');
        parallelism.parallelism = 'four';
      });

      // Assess
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatchObject({ location: SEVERAL, address: ORDERS });
      expect(result.problems[0]?.message).toMatch(/application orders-enrichment /);
      expect(result.problems[0]?.message).toContain(
        'application_configuration.0.flink_application_configuration.0.parallelism_configuration.0.parallelism: ',
      );
    });

    it('reads a state with only other resource types as declaring no application, without a problem', () => {
      // Act
      const result = parseTerraformState(fixture('no-msf.tfstate.json'), 'no-msf.tfstate.json');

      // Assess
      expect(result.applications).toEqual([]);
      expect(result.problems).toEqual([]);
    });
  });
});

describe('Function: resourceAddress', () => {
  it.each([
    { parts: { type: 't', name: 'n' }, address: 't.n' },
    { parts: { module: 'module.streaming', type: 't', name: 'n' }, address: 'module.streaming.t.n' },
    { parts: { module: 'module.a.module.b', type: 't', name: 'n', indexKey: 0 }, address: 'module.a.module.b.t.n[0]' },
    { parts: { type: 't', name: 'n', indexKey: 'orders' }, address: 't.n["orders"]' },
    { parts: { module: 'module.m["eu"]', type: 't', name: 'n', indexKey: 2 }, address: 'module.m["eu"].t.n[2]' },
    { parts: { mode: 'data', type: 't', name: 'n' }, address: 'data.t.n' },
  ])('builds $address', ({ parts, address }) => {
    // Act & Assess
    expect(resourceAddress(parts)).toBe(address);
  });
});

describe('Function: findApplication', () => {
  it('returns the desired state of a declared application', () => {
    // Prepare
    const result = parseTerraformState(fixture(SEVERAL), SEVERAL);

    // Act
    const found = findApplication(result, 'payments-aggregation');

    // Assess
    expect(found).toMatchObject({ found: true, desired: { source: { address: PAYMENTS } } });
  });

  it('reports a resource absent from the state, naming the file and the application', () => {
    // Prepare
    const result = parseTerraformState(fixture(SEVERAL), SEVERAL);

    // Act
    const found = findApplication(result, 'fraud-scoring');

    // Assess
    expect(found).toEqual({
      found: false,
      problem: {
        location: SEVERAL,
        applicationName: 'fraud-scoring',
        message:
          `Terraform state ${SEVERAL}: resource absent from the state: ` +
          'no aws_kinesisanalyticsv2_application named fraud-scoring',
      },
    });
  });

  it('says why an application is absent when the file itself could not be read', () => {
    // Prepare
    const result = parseTerraformState(fixture('corrupt.tfstate'), 'corrupt.tfstate');

    // Act
    const found = findApplication(result, 'orders-enrichment');

    // Assess
    expect(found.found).toBe(false);
    if (found.found) return;
    expect(found.problem.message).toMatch(
      /resource absent from the state.*orders-enrichment.*1 problem.*not valid JSON/,
    );
  });

  it('reports an application declared by several resources as ambiguous, listing their addresses', () => {
    // Prepare
    const result = parseEdited((s) => {
      ordersAttributes(s).name = 'payments-aggregation';
    });

    // Act
    const found = findApplication(result, 'payments-aggregation');

    // Assess
    expect(found.found).toBe(false);
    if (found.found) return;
    expect(found.problem.message).toContain(`declared by 2 resources (${ORDERS}, ${PAYMENTS})`);
  });
});

describe('Function: parseS3Location', () => {
  it.each([
    {
      source: 's3://tf-state/streaming/terraform.tfstate',
      parsed: { bucket: 'tf-state', key: 'streaming/terraform.tfstate' },
    },
    {
      source: 's3://tf-state/env:/prod/streaming.tfstate',
      parsed: { bucket: 'tf-state', key: 'env:/prod/streaming.tfstate' },
    },
    { source: 's3://tf-state/', parsed: undefined },
    { source: 's3://tf-state', parsed: undefined },
    { source: 'terraform.tfstate', parsed: undefined },
  ])('parses $source', ({ source, parsed }) => {
    // Act & Assess
    expect(parseS3Location(source)).toEqual(parsed);
  });
});

describe('Function: readTerraformState', () => {
  describe('local path', () => {
    it('reads and parses a state file', async () => {
      // Act
      const result = await readTerraformState(`${FIXTURES}${SEVERAL}`);

      // Assess
      expect(result.problems).toEqual([]);
      expect(result.applications).toHaveLength(4);
      expect(result.applications[0]?.source.location).toBe(`${FIXTURES}${SEVERAL}`);
    });

    it('reports a missing file, naming it', async () => {
      // Prepare
      const path = `${FIXTURES}does-not-exist.tfstate`;

      // Act
      const result = await readTerraformState(path);

      // Assess
      expect(result).toEqual({
        location: path,
        applications: [],
        problems: [{ location: path, message: `Terraform state ${path}: file not found` }],
        sensitivePaths: {},
      });
    });

    it('reports a directory given instead of a file', async () => {
      // Act
      const result = await readTerraformState(FIXTURES);

      // Assess
      expect(result.problems[0]?.message).toMatch(/is a directory/);
    });
  });

  describe('S3 (the backend object)', () => {
    const s3 = new S3Client({ region: 'eu-west-1' });
    const s3Mock = mockClient(s3);
    const SOURCE = 's3://acme-terraform-state/streaming/terraform.tfstate';

    afterEach(() => {
      s3Mock.reset();
    });

    function body(text: string): GetObjectCommandOutput['Body'] {
      return { transformToString: async () => text } as unknown as GetObjectCommandOutput['Body'];
    }

    it('reads the object with GetObject and parses it', async () => {
      // Prepare
      s3Mock
        .on(GetObjectCommand, { Bucket: 'acme-terraform-state', Key: 'streaming/terraform.tfstate' })
        .resolves({ Body: body(fixture(SEVERAL)) });

      // Act
      const result = await readTerraformState(SOURCE, { s3 });

      // Assess
      expect(result.problems).toEqual([]);
      expect(result.applications.map((a) => a.applicationName)).toEqual([
        'clickstream-sessions',
        'legacy-sessionizer',
        'orders-enrichment',
        'payments-aggregation',
      ]);
      expect(result.applications[0]?.source).toMatchObject({ kind: 'terraform', location: SOURCE });
      expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);
    });

    it('reports a missing S3 object (NoSuchKey), naming the source', async () => {
      // Prepare
      s3Mock
        .on(GetObjectCommand)
        .rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }));

      // Act
      const result = await readTerraformState(SOURCE, { s3 });

      // Assess
      expect(result.applications).toEqual([]);
      expect(result.problems).toEqual([
        {
          location: SOURCE,
          message:
            `Terraform state ${SOURCE}: S3 object not found ` +
            '(NoSuchKey: no key streaming/terraform.tfstate in bucket acme-terraform-state)',
        },
      ]);
      expect(findApplication(result, 'orders-enrichment').found).toBe(false);
    });

    it('reports a missing bucket (NoSuchBucket)', async () => {
      // Prepare
      s3Mock
        .on(GetObjectCommand)
        .rejects(new NoSuchBucket({ message: 'The specified bucket does not exist', $metadata: {} }));

      // Act
      const result = await readTerraformState(SOURCE, { s3 });

      // Assess
      expect(result.problems[0]?.message).toMatch(/bucket acme-terraform-state does not exist/);
    });

    it('reports access denied', async () => {
      // Prepare
      s3Mock.on(GetObjectCommand).rejects(
        new S3ServiceException({
          name: 'AccessDenied',
          $fault: 'client',
          message: 'Access Denied',
          $metadata: { httpStatusCode: 403 },
        }),
      );

      // Act
      const result = await readTerraformState(SOURCE, { s3 });

      // Assess
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]?.message).toMatch(new RegExp(`^Terraform state ${SOURCE}: access denied`));
    });

    it('reports a corrupt object like a corrupt file, naming the S3 address', async () => {
      // Prepare
      s3Mock.on(GetObjectCommand).resolves({ Body: body(fixture('corrupt.tfstate')) });

      // Act
      const result = await readTerraformState(SOURCE, { s3 });

      // Assess
      expect(result.problems[0]).toMatchObject({ location: SOURCE, message: expect.stringMatching(/not valid JSON/) });
    });

    it('reports a malformed s3:// address without calling S3', async () => {
      // Act
      const result = await readTerraformState('s3://acme-terraform-state', { s3 });

      // Assess
      expect(result.problems[0]?.message).toMatch(/not an s3:\/\/BUCKET\/KEY address/);
      expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
    });

    it('throws TerraformStateReadError, with the cause, for other S3 faults', async () => {
      // Prepare
      const fault = new S3ServiceException({
        name: 'SlowDown',
        $fault: 'server',
        message: 'Please reduce your request rate.',
        $metadata: { httpStatusCode: 503 },
      });
      s3Mock.on(GetObjectCommand).rejects(fault);

      // Act
      const read = readTerraformState(SOURCE, { s3 });

      // Assess
      await expect(read).rejects.toBeInstanceOf(TerraformStateReadError);
      await expect(read).rejects.toMatchObject({ source: SOURCE, cause: fault });
    });
  });
});

describe('Function: parseTerraformState, terraform show -json output', () => {
  const SHOW = 'several.show.json';

  /** several.show.json as an object, to derive variants. */
  function showJson(): { values: { root_module: Record<string, unknown> } } & Record<string, unknown> {
    return JSON.parse(fixture(SHOW)) as { values: { root_module: Record<string, unknown> } } & Record<string, unknown>;
  }

  it('reads the same applications as the state it was made from, child modules included (recursively)', () => {
    // Prepare
    const fromState = parseTerraformState(fixture(SEVERAL), 'x');

    // Act
    const fromShow = parseTerraformState(fixture(SHOW), 'x');

    // Assess
    expect(fromShow.problems).toEqual([]);
    expect(fromShow.format).toBe('show-json');
    const strip = (r: TerraformReadResult) =>
      r.applications
        .map(({ source: { format: _format, ...source }, ...rest }) => ({ ...rest, source }))
        .sort((a, b) => a.applicationName.localeCompare(b.applicationName));
    expect(strip(fromShow)).toEqual(strip(fromState));
    expect(appNamed(fromShow, 'legacy-sessionizer').source.address).toBe(SESSIONIZER);
    expect(appNamed(fromShow, 'orders-enrichment').source).toMatchObject({ format: 'show-json', address: ORDERS });
  });

  it('reads sensitive_values as attribute paths: whole blocks, list elements and map keys', () => {
    // Prepare
    const show = showJson();
    const streaming = (show.values.root_module.child_modules as Array<Record<string, unknown>>).find(
      (m) => m.address === 'module.streaming',
    );
    const resources = (streaming?.resources ?? []) as Array<Record<string, unknown>>;
    const orders = resources.find((r) => r.address === ORDERS);
    if (!orders) expect.fail('orders missing from the fixture');
    orders.sensitive_values = {
      service_execution_role: true,
      application_configuration: [
        { environment_properties: [{ property_group: [{ property_map: { 'jdbc.password': true } }, false] }] },
      ],
      tags: {},
    };

    // Act
    const result = parseTerraformState(JSON.stringify(show), SHOW);

    // Assess
    expect(appNamed(result, 'orders-enrichment').source.sensitivePaths).toEqual([
      'service_execution_role',
      'application_configuration[0].environment_properties[0].property_group[0].property_map["jdbc.password"]',
    ]);
  });

  it('reads an empty state ({"format_version": "1.0"} alone) as declaring nothing, without a problem', () => {
    // Act
    const result = parseTerraformState('{"format_version":"1.0"}', 'empty.json');

    // Assess
    expect(result).toMatchObject({ applications: [], problems: [], format: 'show-json' });
  });

  it('skips deposed objects (deposed_key)', () => {
    // Prepare
    const show = showJson();
    const resources = show.values.root_module.resources as Array<Record<string, unknown>>;
    const clickstream = resources.find((r) => r.address === 'aws_kinesisanalyticsv2_application.clickstream');
    resources.push({ ...clickstream, deposed_key: '00000001' });

    // Act
    const result = parseTerraformState(JSON.stringify(show), SHOW);

    // Assess
    expect(result.applications.filter((a) => a.applicationName === 'clickstream-sessions')).toHaveLength(1);
  });

  it.each([
    {
      what: "a plan's JSON",
      content: { format_version: '1.2', planned_values: {}, resource_changes: [] },
      finding: /the JSON of a plan \(`terraform show -json PLANFILE`\).*`terraform state pull`/,
    },
    {
      what: 'another major format_version',
      content: { format_version: '2.0', values: {} },
      finding: /format_version "2\.0" is not supported \(1\.x is read\)/,
    },
    {
      what: 'values that are not an object',
      content: { format_version: '1.0', values: [] },
      finding: /"values" is not an object/,
    },
  ])('refuses $what with the reason and what to pass instead', ({ content, finding }) => {
    // Act
    const result = parseTerraformState(JSON.stringify(content), 'odd.json');

    // Assess
    expect(result.applications).toEqual([]);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]?.message).toMatch(/^Terraform state odd\.json: /);
    expect(result.problems[0]?.message).toMatch(finding);
  });

  it('names the application of an instance whose attributes do not match the schema', () => {
    // Prepare
    const show = showJson();
    const resources = show.values.root_module.resources as Array<Record<string, unknown>>;
    const clickstream = resources.find((r) => r.address === 'aws_kinesisanalyticsv2_application.clickstream');
    (clickstream?.values as Record<string, unknown>).version_id = 'seven';

    // Act
    const result = parseTerraformState(JSON.stringify(show), SHOW);

    // Assess
    expect(result.problems).toEqual([
      {
        location: SHOW,
        address: 'aws_kinesisanalyticsv2_application.clickstream',
        applicationName: 'clickstream-sessions',
        message: expect.stringMatching(/clickstream-sessions do not match .*version_id/),
      },
    ]);
  });
});

describe('Function: readTerraformState, standard input (-)', () => {
  it('reads the state piped in and reports it as stdin', async () => {
    // Prepare
    const stdin = Readable.from([fixture(SEVERAL)]);

    // Act
    const result = await readTerraformState('-', { stdin });

    // Assess
    expect(result.problems).toEqual([]);
    expect(result.location).toBe(STDIN_LOCATION);
    expect(result.applications.map((a) => a.source.location)).toEqual(['stdin', 'stdin', 'stdin', 'stdin']);
  });

  it('says how to pipe the state when stdin is a terminal, without waiting for input', async () => {
    // Prepare
    const stdin = Object.assign(Readable.from(['never read']), { isTTY: true });

    // Act
    const result = await readTerraformState('-', { stdin });

    // Assess
    expect(result.problems).toEqual([
      {
        location: 'stdin',
        message: expect.stringMatching(
          /^Terraform state stdin: nothing is piped .*terraform state pull \| flink-watchdog drift --tfstate -/,
        ),
      },
    ]);
  });

  it('says the command before the pipe may have failed when stdin is empty', async () => {
    // Act
    const result = await readTerraformState('-', { stdin: Readable.from([]) });

    // Assess
    expect(result.problems[0]?.message).toMatch(
      /^Terraform state stdin: standard input is empty: did the command before the pipe fail/,
    );
  });
});

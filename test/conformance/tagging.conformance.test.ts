import { GetResourcesCommand, ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { ScenarioApplication } from '#sandbox/scenario.ts';
import { loadServiceModel, MODEL_FILES } from './model.ts';
import { type CapturedResponse, captureResponses, expectConformingError, expectConformingOutput } from './wire.ts';

/**
 * Conformance of the emulator's Resource Groups Tagging API with the official model (awsJson1_1): GetResources through
 * the real SDK v3 client, each raw response checked against the output shape, and the documented errors against the
 * operation's `errors`.
 */

const MODEL = loadServiceModel(MODEL_FILES.resourcegroupstaggingapi);
const START = '2026-03-02T14:00:00Z';

let emulator: Emulator;
let tagging: ResourceGroupsTaggingAPIClient;
let wire: CapturedResponse[];

beforeAll(async () => {
  emulator = await startEmulator({
    clock: new VirtualClock(Date.parse(START)),
    world: {
      startTime: START,
      applications: ['orders', 'payments', 'clicks'].map((name, i) =>
        ScenarioApplication.parse({
          name,
          code: { bucket: 'artifacts', fileKey: `${name}-1.jar` },
          tags: i < 2 ? { 'flink-watchdog': 'watch', team: name } : {},
        }),
      ),
      jobModel: [],
      faults: [],
    },
  });
  tagging = new ResourceGroupsTaggingAPIClient({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  wire = captureResponses(tagging);
});

afterAll(async () => {
  tagging?.destroy();
  await emulator?.close();
});

describe('Conformance: Resource Groups Tagging API responses match the API model', () => {
  it('GetResources: filtered by type and tag, unfiltered, and paged', async () => {
    await tagging.send(
      new GetResourcesCommand({
        ResourceTypeFilters: ['kinesisanalytics:application'],
        TagFilters: [{ Key: 'flink-watchdog', Values: ['watch'] }],
      }),
    );
    const filtered = expectConformingOutput(MODEL, wire, 'GetResources');
    expect((filtered.ResourceTagMappingList as unknown[]).length).toBe(2);
    await tagging.send(new GetResourcesCommand({}));
    expectConformingOutput(MODEL, wire, 'GetResources');
    await tagging.send(new GetResourcesCommand({ ResourcesPerPage: 1 }));
    const page = expectConformingOutput(MODEL, wire, 'GetResources');
    await tagging.send(new GetResourcesCommand({ ResourcesPerPage: 1, PaginationToken: String(page.PaginationToken) }));
    expectConformingOutput(MODEL, wire, 'GetResources');
  });

  it('GetResources errors: InvalidParameterException, PaginationTokenExpiredException', async () => {
    await expectConformingError(MODEL, wire, 'GetResources', 'InvalidParameterException', () =>
      tagging.send(new GetResourcesCommand({ ResourcesPerPage: 0 })),
    );
    await expectConformingError(MODEL, wire, 'GetResources', 'PaginationTokenExpiredException', () =>
      tagging.send(new GetResourcesCommand({ PaginationToken: 'not-a-token' })),
    );
  });
});

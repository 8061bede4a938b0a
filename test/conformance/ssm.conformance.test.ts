import { GetCalendarStateCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { SsmChangeCalendar } from '#shared/adapters/ssm-change-calendar.ts';
import type { CommonErrors } from './model.ts';
import { loadServiceModel, MODEL_FILES } from './model.ts';
import { type CapturedResponse, captureResponses, expectConformingError, expectConformingOutput } from './wire.ts';

/**
 * Conformance of the emulator's AWS Systems Manager with the official SSM model (awsJson1_1): GetCalendarState through
 * the real SDK v3 client, each raw response checked against the output shape and each error against the operation's
 * `errors` (or the common errors); and the calendars behave as the scenario defines them (CLOSED in a closed window,
 * OPEN otherwise, the combined state of several, the next transition).
 */

const MODEL = loadServiceModel(MODEL_FILES.ssm);
const START = '2026-03-02T14:00:00Z';
const T0 = Date.parse(START);
const MIN = 60_000;

/** SSM's common errors (https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html) by model shape. */
const COMMON_ERRORS: CommonErrors = { ValidationException: 'ValidationError (400)' };

let emulator: Emulator;
let clock: VirtualClock;
let ssm: SSMClient;
let wire: CapturedResponse[];

beforeAll(async () => {
  clock = new VirtualClock(T0);
  emulator = await startEmulator({
    clock,
    world: {
      startTime: START,
      applications: [],
      jobModel: [],
      faults: [],
      changeCalendars: [
        { name: 'prod-freeze', closed: [{ fromMinute: 10, toMinute: 20 }] },
        { name: 'payments-freeze', closed: [{ fromMinute: 15, toMinute: 30 }] },
      ],
    },
  });
  ssm = new SSMClient({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  wire = captureResponses(ssm);
});

afterAll(async () => {
  ssm?.destroy();
  await emulator?.close();
});

describe('Conformance: SSM GetCalendarState matches the API model', () => {
  it('an OPEN calendar: State OPEN, AtTime now, NextTransitionTime when it closes', async () => {
    // Act
    await ssm.send(new GetCalendarStateCommand({ CalendarNames: ['prod-freeze'] }));
    const body = expectConformingOutput(MODEL, wire, 'GetCalendarState');
    // Assess
    expect(body).toEqual({
      State: 'OPEN',
      AtTime: '2026-03-02T14:00:00Z',
      NextTransitionTime: '2026-03-02T14:10:00Z',
    });
  });

  it('a CLOSED calendar by ARN at a given AtTime: State CLOSED until the window ends', async () => {
    // Act
    await ssm.send(
      new GetCalendarStateCommand({
        CalendarNames: [`arn:aws:ssm:${emulator.region}:${emulator.accountId}:document/prod-freeze`],
        AtTime: '2026-03-02T14:12:00Z',
      }),
    );
    const body = expectConformingOutput(MODEL, wire, 'GetCalendarState');
    // Assess
    expect(body).toEqual({
      State: 'CLOSED',
      AtTime: '2026-03-02T14:12:00Z',
      NextTransitionTime: '2026-03-02T14:20:00Z',
    });
  });

  it('several calendars: CLOSED while any is, OPEN again only when all are, no transition after the last', async () => {
    // Act
    await ssm.send(
      new GetCalendarStateCommand({
        CalendarNames: ['prod-freeze', 'payments-freeze'],
        AtTime: '2026-03-02T14:12:00Z',
      }),
    );
    const closed = expectConformingOutput(MODEL, wire, 'GetCalendarState');
    await ssm.send(
      new GetCalendarStateCommand({
        CalendarNames: ['prod-freeze', 'payments-freeze'],
        AtTime: '2026-03-02T14:40:00Z',
      }),
    );
    const open = expectConformingOutput(MODEL, wire, 'GetCalendarState');
    // Assess
    expect(closed).toMatchObject({ State: 'CLOSED', NextTransitionTime: '2026-03-02T14:30:00Z' });
    expect(open).toEqual({ State: 'OPEN', AtTime: '2026-03-02T14:40:00Z' });
  });

  it('follows the virtual clock through the adapter the watchdog uses', async () => {
    // Prepare
    const adapter = new SsmChangeCalendar({ client: ssm });
    clock.advanceTo(T0 + 16 * MIN);
    // Act
    const state = await adapter.getCalendarState(['prod-freeze', 'payments-freeze']);
    // Assess
    expect(state).toEqual({ state: 'CLOSED', nextTransitionMs: T0 + 30 * MIN });
  });

  it('an unknown calendar (or one of another account) is InvalidDocument; no names is ValidationException', async () => {
    await expectConformingError(MODEL, wire, 'GetCalendarState', 'InvalidDocument', () =>
      ssm.send(new GetCalendarStateCommand({ CalendarNames: ['prod-freez'] })),
    );
    await expectConformingError(MODEL, wire, 'GetCalendarState', 'InvalidDocument', () =>
      ssm.send(
        new GetCalendarStateCommand({ CalendarNames: ['arn:aws:ssm:eu-west-1:999999999999:document/prod-freeze'] }),
      ),
    );
    await expectConformingError(
      MODEL,
      wire,
      'GetCalendarState',
      'ValidationException',
      () => ssm.send(new GetCalendarStateCommand({ CalendarNames: [] })),
      COMMON_ERRORS,
    );
  });
});

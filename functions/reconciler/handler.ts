import { Logger } from '@aws-lambda-powertools/logger';
import type { FleetCells } from '#shared/adapters/accounts.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { fleetAdaptersFromEnv } from '#shared/adapters/fleet-adapters.ts';
import type { RoutedMsf } from '#shared/adapters/routed-msf.ts';
import { StepFunctionsStarter } from '#shared/adapters/sfn-starter.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import { loadDesiredStates } from '#shared/desired/sources.ts';
import type { HomeCell } from '#shared/domain/app-key.ts';
import {
  type ReconcileResult,
  type ReconcilerCell,
  type ReconcilerDeps,
  reconcile,
} from '#shared/domain/reconciler.ts';
import { parseDetectorEvent } from '#shared/events/detector-input.ts';
import { loadConfigFromEnv, ReconcilerEnv, readEnv } from '../common/env.ts';
import { notifierFromEnv } from '../common/notifier.ts';

/** What the reconciler returns for one event. */
export interface ReconcilerOutput {
  /** REJECTED: not a Scheduled Event or an MSF CloudTrail event; nothing was called. */
  status: 'OK' | 'REJECTED';
  error?: string;
  result?: ReconcileResult;
}

/**
 * The reconciler: on its schedule, one reconcile cycle over the watched applications; on an MSF "AWS API Call via
 * CloudTrail" event, an immediate re-check of that one application. Anything else is rejected without an MSF call.
 * @param home the watchdog's own account and Region: a CloudTrail event of a member account names its application by
 *   key (`NAME@ACCOUNT.REGION`).
 */
export function createReconcilerHandler(
  deps: ReconcilerDeps,
  home?: HomeCell,
): (event: unknown) => Promise<ReconcilerOutput> {
  return async (event) => {
    const parsed = parseDetectorEvent(event, home);
    if (
      !parsed.ok ||
      parsed.kind === 'alarm' ||
      parsed.kind === 'workflow-ended' ||
      parsed.kind === 'sweep-plan' ||
      parsed.kind === 'sweep-look'
    ) {
      const error = parsed.ok ? `the reconciler does not handle ${parsed.kind} events` : parsed.error;
      deps.log.error('rejected event', { error });
      return { status: 'REJECTED', error };
    }
    if (parsed.kind === 'cloudtrail') {
      const names = parsed.signals.map((s) => s.applicationName);
      if (names.length === 0) return { status: 'OK' };
      return { status: 'OK', result: await reconcile(deps, { only: names, force: names }) };
    }
    const result = await reconcile(deps);
    for (const p of result.problems) deps.log.error('desired state unreadable', { ...p });
    deps.log.info('reconcile cycle', {
      msfCalls: result.msfCalls,
      skippedCells: result.skippedCells.map((c) => c.cell),
      verdicts: result.lines.map((l) => `${l.applicationName}:${l.verdict}`),
    });
    return { status: 'OK', result };
  };
}

/**
 * The reconciler's cells of a fleet: each watched cell (home first, then `fleet.accounts` order) listed on its own
 * through the routed MSF port, its summaries named by application key.
 */
export function reconcilerCellsOf(cells: FleetCells, msf: RoutedMsf): ReconcilerCell[] {
  return cells.cells().map((cell) => ({
    ...(cells.isHome(cell) ? {} : { accountId: cell.accountId, region: cell.region }),
    listApplications: () => msf.listApplicationsIn(cell),
  }));
}

let lambdaHandler: ((event: unknown) => Promise<ReconcilerOutput>) | undefined;

/**
 * Lambda entry point, wired from the environment ({@link ReconcilerEnv}).
 * @throws Error naming the variable when the environment is incomplete.
 */
export async function handler(event: unknown): Promise<ReconcilerOutput> {
  if (!lambdaHandler) {
    const env = readEnv(ReconcilerEnv);
    const ledger = new DynamoDbLedger({ tableName: env.LEDGER_TABLE_NAME });
    const log = new Logger({ serviceName: 'flink-watchdog-reconciler' });
    const config = loadConfigFromEnv();
    // Every watched cell, by application key: tagged applications of member accounts are reconciled too. Each cell
    // is listed on its own, so one that cannot be read (a missing member role, AccessDenied, throttling) is skipped.
    const { msf, cells } = await fleetAdaptersFromEnv(config);
    const reconcilerCells = reconcilerCellsOf(cells, msf);
    const home = cells.home.accountId ? { accountId: cells.home.accountId, region: cells.home.region } : undefined;
    lambdaHandler = createReconcilerHandler(
      {
        msf,
        ledger,
        notifier: notifierFromEnv(env, { ledger, log }),
        starter: new StepFunctionsStarter({ stateMachineArn: env.STATE_MACHINE_ARN, log }),
        config,
        clock: systemClock,
        log,
        // The Terraform state reader (and its S3 client) is loaded only when drift.terraformState names a source.
        desired: () =>
          loadDesiredStates(config, async (source) => {
            const { readTerraformState } = await import('#shared/desired/terraform-source.ts');
            return readTerraformState(source);
          }),
        cells: reconcilerCells,
      },
      home,
    );
  }
  return lambdaHandler(event);
}

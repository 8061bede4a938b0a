/**
 * The ledger's single-table DynamoDB layout, shared by the CDK construct (which creates the real table), the
 * DynamoDbLedger adapter (which reads and writes it) and the local dynalite harness. Deliberately free of AWS SDK
 * imports so infrastructure code can depend on it without pulling in a client.
 *
 * Items (all keys are strings, `S`):
 *
 * | item     | pk                   | sk                               | other attributes                                         |
 * | -------- | -------------------- | -------------------------------- | -------------------------------------------------------- |
 * | incident | `INCIDENT#<id>`      | `INCIDENT`                       | applicationName, openedMs, status, incident, expiresAt?, |
 * |          |                      |                                  | revision? (N, saves since created; absent = 0)           |
 * | lock     | `LOCK#<application>` | `LOCK`                           | holder, expiresMs, expiresAt                             |
 * | attempt  | `ATTEMPTS#<app>`     | `<atMs, 15 digits>#<incidentId>` | incidentId, atMs, expiresAt                              |
 * | pause    | `AUTOMATION#<app>`   | `AUTOMATION`                     | schemaVersion, pausedBy, reason, atMs (no expiresAt)     |
 * | notice   | `NOTICE#<key>`       | `NOTICE`                         | atMs, expiresAt (a one-time notice, claimed once)        |
 * | reconciler memory | `RECONCILER`  | `MEMORY`                         | memory                                                   |
 * | fleet memory | `FLEET`          | `MEMORY`                         | memory (the sweep's watched set)                         |
 * | slots    | `FLEET`              | `SLOTS`                          | slots (list of incidentId, applicationName, expiresMs),  |
 * |          |                      |                                  | version (N; every write conditional on the one read)     |
 * | sighting | `FLEET#SIGHTINGS`    | `<application key>`              | sighting, expiresAt (a day after its lastSeenMs)         |
 * | open fleet incident | `FLEET#INCIDENTS` | `OPEN`                | incidentId, incident, revision? (one at a time: put-if-absent) |
 * | closed fleet incident | `FLEET#INCIDENTS` | `CLOSED#<openedMs, 15 digits>#<id>` | incidentId, incident, revision, expiresAt |
 *
 * Only incident items carry `applicationName` and `openedMs`, so only they appear in the `byApplication` index.
 */
export const LEDGER_TABLE = {
  /** Partition key attribute, type S. */
  partitionKey: 'pk',
  /** Sort key attribute, type S. */
  sortKey: 'sk',
  /**
   * TTL attribute: epoch **seconds** (a DynamoDB Number). DynamoDB deletes an item some time (typically within a few
   * days) after this instant; items without it are kept forever. The ledger never relies on TTL for correctness:
   * locks carry their own `expiresMs`, and an expired but not yet deleted item behaves as absent where that matters.
   */
  ttlAttribute: 'expiresAt',
  /**
   * Revision of an incident item: a Number, how many times it was saved since it was created; absent on a new item and
   * on items written before revisions existed (both read as 0). Every save is a PutItem conditional on it (optimistic
   * concurrency): `revision = :read`, or `attribute_not_exists(revision)` for 0.
   */
  revisionAttribute: 'revision',
  /** Global secondary index listing an application's incidents by opening time (projection ALL). */
  byApplicationIndex: {
    indexName: 'byApplication',
    /** Application name, type S. */
    partitionKey: 'applicationName',
    /** When the incident was opened, epoch milliseconds, type N. */
    sortKey: 'openedMs',
  },
} as const;

/** Sort key value of incident items. */
export const INCIDENT_SORT_KEY = 'INCIDENT';
/** Sort key value of lock items. */
export const LOCK_SORT_KEY = 'LOCK';
/** Sort key value of automation pause items (one per paused application; deleted on resume, never expired). */
export const AUTOMATION_SORT_KEY = 'AUTOMATION';

/**
 * How long a terminal incident is kept, days: its `expiresAt` is set to `closedMs` (or `openedMs` when the incident
 * has no `closedMs`) plus this many days. Non-terminal incidents get no `expiresAt` and are never expired.
 */
export const DEFAULT_CLOSED_INCIDENT_RETENTION_DAYS = 90;

/**
 * How long an attempt record is kept, days after the attempt (`atMs`). Attempt counting only ever looks back over a
 * cooldown/attempt window far shorter than this; once the records expire, `attemptsSince` no longer reports a `lastMs`.
 */
export const DEFAULT_ATTEMPT_RETENTION_DAYS = 7;

/** Width of the zero-padded `atMs` prefix of attempt sort keys, digits (covers every epoch-ms up to the year 33658). */
export const ATTEMPT_SORT_KEY_DIGITS = 15;

/** The CreateTable input for the ledger table, as a plain object (structurally a `CreateTableCommandInput`). */
export interface LedgerCreateTableInput {
  TableName: string;
  KeySchema: Array<{ AttributeName: string; KeyType: 'HASH' | 'RANGE' }>;
  AttributeDefinitions: Array<{ AttributeName: string; AttributeType: 'S' | 'N' }>;
  GlobalSecondaryIndexes: Array<{
    IndexName: string;
    KeySchema: Array<{ AttributeName: string; KeyType: 'HASH' | 'RANGE' }>;
    Projection: { ProjectionType: 'ALL' };
  }>;
  BillingMode: 'PAY_PER_REQUEST';
}

/**
 * The DynamoDB CreateTable request for a ledger table named `tableName` (on-demand billing, the `byApplication` GSI
 * projecting all attributes). TTL is not part of CreateTable: enable it separately (UpdateTimeToLive on
 * `LEDGER_TABLE.ttlAttribute`, or `timeToLiveAttribute` in CDK). Used by the local harness; the CDK construct
 * declares the same layout from `LEDGER_TABLE`.
 */
export function ledgerCreateTableInput(tableName: string): LedgerCreateTableInput {
  const t = LEDGER_TABLE;
  const gsi = t.byApplicationIndex;
  return {
    TableName: tableName,
    KeySchema: [
      { AttributeName: t.partitionKey, KeyType: 'HASH' },
      { AttributeName: t.sortKey, KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: t.partitionKey, AttributeType: 'S' },
      { AttributeName: t.sortKey, AttributeType: 'S' },
      { AttributeName: gsi.partitionKey, AttributeType: 'S' },
      { AttributeName: gsi.sortKey, AttributeType: 'N' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: gsi.indexName,
        KeySchema: [
          { AttributeName: gsi.partitionKey, KeyType: 'HASH' },
          { AttributeName: gsi.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

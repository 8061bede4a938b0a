import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { ledgerCreateTableInput } from '#shared/adapters/ledger-table.ts';

/** How long a closing ledger waits for requests being served before cutting their connections, ms. */
const CLOSE_GRACE_MS = 5_000;

/** Name of the table `startLedgerTable` creates unless told otherwise. */
export const DEFAULT_LOCAL_LEDGER_TABLE = 'flink-watchdog-ledger';

/** A running in-memory DynamoDB (dynalite) holding one ledger table. */
export interface LocalLedgerTable {
  /** `http://127.0.0.1:<port>`, for any DynamoDB client's `endpoint`. */
  endpoint: string;
  tableName: string;
  /** Document client on `endpoint` (region us-east-1, dummy credentials, no retries, undefined values removed). */
  client: DynamoDBDocumentClient;
  /** Destroys the client and stops the server, dropping all data. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Starts dynalite in memory on 127.0.0.1 (a free port) and creates a ledger table laid out as in `ledger-table.ts`,
 * waiting until it and its index are ACTIVE. Nothing leaves the machine. TTL is not emulated: expired items stay.
 * @throws the SDK's error when the table cannot be created; the server is stopped first.
 */
export async function startLedgerTable(options: { tableName?: string } = {}): Promise<LocalLedgerTable> {
  const tableName = options.tableName ?? DEFAULT_LOCAL_LEDGER_TABLE;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const raw = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve, reject) => {
      client.destroy();
      // dynalite's close stops accepting requests, waits for the HTTP server to close, then closes its database. A
      // request still being served must finish first: cutting its connection leaves dynalite working on it against a
      // closed database, which throws outside any promise (LEVEL_DATABASE_NOT_OPEN) and ends the process. So the
      // idle connections are closed now (Node's server.close does) and the busy ones get a moment to answer.
      const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      force.unref();
      server.close((err) => {
        clearTimeout(force);
        if (err) reject(err);
        else resolve();
      });
      server.closeIdleConnections();
    });
    return closed;
  };

  try {
    await raw.send(new CreateTableCommand(ledgerCreateTableInput(tableName)));
    await waitUntilActive(raw, tableName);
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return { endpoint, tableName, client, close };
}

/** Polls DescribeTable until the table and all its GSIs are ACTIVE (dynalite flips them after `createTableMs`). */
async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`dynalite table ${tableName} did not become ACTIVE`);
}

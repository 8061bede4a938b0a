import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '#shared/clock.ts';

/** One POST the receiver got, as Slack would have. */
export interface ReceivedSlackMessage {
  /** Virtual time of the request, ms. */
  atMs: number;
  /** The JSON body: `{ text, blocks }`. */
  body: { text?: string; blocks?: unknown[] };
  /** What the receiver answered: an HTTP status, or `timeout` (no answer). */
  answer: number | 'timeout';
}

/** When the receiver fails, in virtual time, and how. */
export interface SlackOutage {
  fromMs: number;
  /** Omit for an outage that lasts. */
  toMs?: number;
  /** `http-500`: answer 500; `timeout`: never answer (the client's timeout fires). */
  mode: 'http-500' | 'timeout';
}

/** A local stand-in for a Slack incoming webhook on 127.0.0.1. */
export interface SlackReceiver {
  /** The webhook URL to give the notifier. */
  url: string;
  readonly received: ReceivedSlackMessage[];
  close(): Promise<void>;
}

/**
 * Starts a Slack incoming-webhook stand-in on 127.0.0.1 (free port): it records every POST and answers `ok` (200), or,
 * during an outage in virtual time, 500 or nothing at all. Used by the drill; nothing leaves the machine.
 */
export async function startSlackReceiver(options: { clock: Clock; outages?: SlackOutage[] }): Promise<SlackReceiver> {
  const received: ReceivedSlackMessage[] = [];
  const hanging = new Set<ServerResponse>();
  const failing = (t: number) =>
    (options.outages ?? []).find((o) => o.fromMs <= t && (o.toMs === undefined || t < o.toMs));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const atMs = options.clock.now();
      let body: ReceivedSlackMessage['body'] = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedSlackMessage['body'];
      } catch {
        res.writeHead(400).end('invalid_payload');
        return;
      }
      const outage = failing(atMs);
      if (outage?.mode === 'timeout') {
        received.push({ atMs, body, answer: 'timeout' });
        hanging.add(res);
        return;
      }
      const status = outage ? 500 : 200;
      received.push({ atMs, body, answer: status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'internal_error');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/T0DRILL/B0DRILL/drill`,
    received,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

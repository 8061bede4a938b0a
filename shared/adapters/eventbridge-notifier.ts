import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { renderEventBridge } from '#shared/notify/eventbridge.ts';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';
import { onFirstUse } from './on-first-use.ts';

/**
 * Puts each notification on an EventBridge bus as a custom event (source `flink-watchdog`, detail-types in
 * shared/notify/eventbridge.ts, detail = the WatchdogEventV1 JSON). The EventBridge client module is loaded at the first
 * notification, not at cold start.
 * @throws Error when PutEvents reports the entry failed (FailedEntryCount > 0), with its ErrorCode.
 */
export class EventBridgeNotifier implements Notifier {
  readonly #client: () => Promise<EventBridgeClient>;
  readonly #eventBusName: string | undefined;

  /**
   * @param options.client a ready client (tests); @default a new EventBridgeClient (default credential chain and
   *   Region), made at the first notification
   */
  constructor(options: { eventBusName?: string; client?: EventBridgeClient } = {}) {
    this.#client = onFirstUse(options.client, async () => {
      const { EventBridgeClient: Client } = await import('./lazy/eventbridge.ts');
      return new Client({});
    });
    this.#eventBusName = options.eventBusName;
  }

  async notify(n: Notification): Promise<void> {
    const entry = renderEventBridge(n, this.#eventBusName ? { eventBusName: this.#eventBusName } : {});
    const { PutEventsCommand } = await import('./lazy/eventbridge.ts');
    const out = await (await this.#client()).send(new PutEventsCommand({ Entries: [entry] }));
    if ((out.FailedEntryCount ?? 0) > 0) {
      const failed = out.Entries?.[0];
      throw new Error(`PutEvents refused the event: ${failed?.ErrorCode ?? 'unknown'} ${failed?.ErrorMessage ?? ''}`);
    }
  }
}

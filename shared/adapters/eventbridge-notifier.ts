import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { renderEventBridge } from '#shared/notify/eventbridge.ts';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';

/**
 * Puts each notification on an EventBridge bus as a custom event (source `flink-watchdog`, detail-types in
 * shared/notify/eventbridge.ts, detail = the WatchdogEventV1 JSON).
 * @throws Error when PutEvents reports the entry failed (FailedEntryCount > 0), with its ErrorCode.
 */
export class EventBridgeNotifier implements Notifier {
  readonly #client: EventBridgeClient;
  readonly #eventBusName: string | undefined;

  constructor(options: { eventBusName?: string; client?: EventBridgeClient } = {}) {
    this.#client = options.client ?? new EventBridgeClient({});
    this.#eventBusName = options.eventBusName;
  }

  async notify(n: Notification): Promise<void> {
    const entry = renderEventBridge(n, this.#eventBusName ? { eventBusName: this.#eventBusName } : {});
    const out = await this.#client.send(new PutEventsCommand({ Entries: [entry] }));
    if ((out.FailedEntryCount ?? 0) > 0) {
      const failed = out.Entries?.[0];
      throw new Error(`PutEvents refused the event: ${failed?.ErrorCode ?? 'unknown'} ${failed?.ErrorMessage ?? ''}`);
    }
  }
}

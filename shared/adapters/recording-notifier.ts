import type { Notification, Notifier } from '#shared/ports/notifier.ts';

/** Keeps every notification in memory (the drill's timeline and tests read them). */
export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];

  async notify(notification: Notification): Promise<void> {
    this.sent.push(structuredClone(notification));
  }
}

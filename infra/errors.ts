/** Raised at synth time for construct props (or a package state) that cannot produce a working watchdog. */
export class FlinkWatchdogPropsError extends Error {
  override readonly name = 'FlinkWatchdogPropsError';
}

import { ensureBuilt } from '../scripts/build.ts';

/**
 * Vitest global setup: the tests that synthesize the FlinkWatchdog construct deploy the prebuilt Lambda code in
 * `dist/lambda/`, as a consumer's synth does. It is built here when missing or older than its sources (`npm ci`
 * already built it through the `prepare` script; after editing functions/ or shared/ this rebuilds it once). The CLI,
 * the library and the declarations are built by the pack test (test/package/), which needs them.
 */
export default async function setup(): Promise<void> {
  await ensureBuilt({ package: false });
}

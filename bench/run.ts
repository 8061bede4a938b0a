/**
 * `npm run bench`: figures, not pass/fail.
 * - per drill scenario: detection latency (virtual seconds from loop onset, or the failing change, to the first
 *   remediation call), recovery time, wall time, and the detector's CPU time per event it handled (ms, including
 *   the SDK round trips to the local emulator), and the remediation workflow's state transitions (Step Functions
 *   bills Standard workflows per state transition) and steps (remediation Lambda invocations);
 * - the decision's own CPU time (evaluate + decide, pure functions) per alarm event, over many synthetic events;
 * - per Lambda function: the minified bundle size (kB) and the cold import time of the bundle (ms, bench/bundles.ts);
 * - the reconciler over 1,000 emulated applications: MSF calls and wall time of a cycle with nothing changed (goal:
 *   ≤ 25 calls) and with 10 changed (bench/reconcile.ts).
 */
import { runScenario } from '#sandbox/drill.ts';
import { listScenarios, loadScenario } from '#sandbox/scenario.ts';
import { evaluate } from '#shared/domain/detect.ts';
import { decide } from '#shared/domain/policy.ts';
import { loopingRestarts, MIN, observation, policy, T0 } from '../test/support/builders.ts';
import { measureBundles } from './bundles.ts';
import { measureReconcile } from './reconcile.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function stats(xs: number[]): { median: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { median: at(0.5), p95: at(0.95), max: s.at(-1) ?? 0 };
}

const fmt = (n: number | null, digits = 0) => (n === null ? '-' : n.toFixed(digits));

console.log('Drill scenarios (virtual time; CPU per detector event includes SDK calls to the local emulator)');
console.log(
  `  ${'scenario'.padEnd(28)} ${'outcome'.padEnd(10)} ${'detect s'.padStart(8)} ${'recover s'.padStart(9)} ${'events'.padStart(6)} ${'cpu/event ms (median/p95)'.padStart(26)} ${'transitions'.padStart(11)} ${'steps'.padStart(5)} ${'wall ms'.padStart(8)}`,
);
for (const name of listScenarios()) {
  const r = await runScenario(loadScenario(name));
  const cpu = stats(r.detectorCpuMs);
  // Per remediation (workflow execution); a scenario without one shows '-'.
  const per = (f: (x: (typeof r.executions)[number]) => number) =>
    r.executions.length ? r.executions.map(f).join('+') : '-';
  console.log(
    `  ${name.padEnd(28)} ${r.outcome.padEnd(10)} ${fmt(r.detectionSeconds).padStart(8)} ${fmt(r.recoverySeconds).padStart(9)} ${String(r.detectorCpuMs.length).padStart(6)} ${`${fmt(cpu.median, 2)} / ${fmt(cpu.p95, 2)}`.padStart(26)} ${per((x) => x.stateTransitions).padStart(11)} ${per((x) => x.steps).padStart(5)} ${String(r.wallMs).padStart(8)}`,
  );
}

// The decision alone: evaluate + decide on a looping application, many times.
const now = T0 + 30 * MIN;
const obs = observation({ restarts: loopingRestarts(now) }, now);
const settings = policy();
/** One alarm event's decision: evaluate + decide, no I/O. */
const decideOnce = () =>
  decide({
    observation: obs,
    findings: evaluate(obs, settings, now),
    policy: settings,
    history: { attemptsInWindow: 0 },
    scope: { inScope: true, reason: 'bench' },
    nowMs: now,
  });
const N = 20_000;
const times: number[] = [];
for (let i = 0; i < N; i++) {
  const t0 = process.cpuUsage();
  decideOnce();
  const d = process.cpuUsage(t0);
  times.push((d.user + d.system) / 1000);
}
const start = performance.now();
for (let i = 0; i < N; i++) {
  decideOnce();
}
const perEventMs = (performance.now() - start) / N;
console.log('\nDecision CPU time per alarm event (evaluate + decide, no I/O)');
console.log(
  `  ${N} events: mean ${(perEventMs * 1000).toFixed(1)} µs wall per event; cpuUsage granularity-limited median ${stats(times).median.toFixed(3)} ms`,
);

// The Lambda bundles: built as the construct builds them, size and cold import time in a fresh node.
console.log('\nLambda bundles (esbuild with the construct options; cold init = import in a fresh node, median of 5)');
console.log(`  ${'function'.padEnd(14)} ${'bundle kB'.padStart(9)} ${'cold init ms'.padStart(12)}`);
try {
  for (const b of await measureBundles()) {
    console.log(`  ${b.fn.padEnd(14)} ${b.bundleKb.toFixed(1).padStart(9)} ${b.coldInitMs.toFixed(1).padStart(12)}`);
  }
} catch (e) {
  console.log(`  failed: ${(e as Error).message}`);
  process.exitCode = 1;
}

// The reconciler's cheap first pass over many applications.
console.log(
  '\nReconcile cycles over 1,000 emulated applications (MSF calls as the emulator counted them; goal ≤ 25 unchanged)',
);
console.log(`  ${'cycle'.padEnd(48)} ${'MSF calls'.padStart(9)} ${'described'.padStart(9)} ${'wall ms'.padStart(8)}`);
for (const f of await measureReconcile()) {
  console.log(
    `  ${f.cycle.padEnd(48)} ${String(f.msfCalls).padStart(9)} ${String(f.described).padStart(9)} ${f.wallMs.toFixed(0).padStart(8)}`,
  );
}

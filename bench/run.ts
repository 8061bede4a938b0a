/**
 * `npm run bench`: figures, not pass/fail. `npm run bench -- --json` prints all of them as one JSON object on stdout
 * (bench/report.ts, BenchJson) and nothing else there; `--json-file FILE` prints the table and writes that object to FILE.
 * - per drill scenario: the outcome; detection (virtual seconds from the incident's onset to the detector's decision),
 *   first action (onset to the first mutating MSF call) and recovery (onset to RESOLVED), the onsets being defined in
 *   sandbox/onset.ts; beside them, on the same run and the same emulated metrics, the detection of two peer rules
 *   (sandbox/peers.ts): the Flink Kubernetes Operator's restart health check and AWS's recommended `downtime > 0`
 *   alarm; the CloudWatch timing (metrics delay, alarm evaluation offset) the scenario ran with; the detector's CPU
 *   time per event it handled (ms, including the SDK round trips to the local emulator), and the remediation
 *   workflow's state transitions (Step Functions bills Standard workflows per state transition) and steps
 *   (remediation Lambda invocations);
 * - the decision's own CPU time (evaluate + decide, pure functions) per alarm event, over many synthetic events;
 * - per Lambda function, built as it ships (dist/lambda): all its code and the code loaded at cold import (kB), and
 *   the cold import time (ms, on Node 22 when it can be had; bench/bundles.ts), beside the goals;
 * - the reconciler over 1,000 emulated applications: MSF calls and wall time of a cycle with nothing changed (goal:
 *   ≤ 25 calls) and with 10 changed (bench/reconcile.ts);
 * - the fleet: 1,000 emulated applications in 10 accounts watched by one central watchdog, the steady-state sweep's
 *   virtual duration and calls under throttling, and the monthly cost per application from bench/cost-model.ts
 *   (bench/fleet.ts), with the bill as the README's table rows.
 */
import { writeFileSync } from 'node:fs';
import { runScenario } from '#sandbox/drill.ts';
import { DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS, DEFAULT_METRICS_DELAY_SECONDS } from '#sandbox/emulator/index.ts';
import { listScenarios, loadScenario } from '#sandbox/scenario.ts';
import { evaluate } from '#shared/domain/detect.ts';
import { decide } from '#shared/domain/policy.ts';
import { loopingRestarts, MIN, observation, policy, T0 } from '../test/support/builders.ts';
import { measureBundles } from './bundles.ts';
import { costTableRows } from './cost-model.ts';
import { measureFleet } from './fleet.ts';
import { measureReconcile } from './reconcile.ts';
import {
  type BenchFigures,
  type BenchScenario,
  bundleTableLines,
  type DecisionFigures,
  fleetTableLines,
  scenarioTableHeader,
  scenarioTableRow,
  stats,
  toBenchJson,
} from './report.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const args = process.argv.slice(2);
const json = args.includes('--json');
/** `--json-file FILE`: the table on stdout as usual, and the same run's JSON object written to FILE. */
const jsonFileAt = args.indexOf('--json-file');
const jsonFile = jsonFileAt >= 0 ? args[jsonFileAt + 1] : undefined;
if (jsonFileAt >= 0 && (jsonFile === undefined || jsonFile.startsWith('--'))) {
  console.error('--json-file needs a file name, e.g. npm run bench -- --json-file bench.json');
  process.exit(2);
}
/** Text output, progressively; silent in --json mode (stdout then carries the JSON object only). */
const say = (line: string) => {
  if (!json) console.log(line);
};

const cloudwatchDefaults = {
  metricsDelaySeconds: DEFAULT_METRICS_DELAY_SECONDS,
  alarmEvaluationOffsetSeconds: DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS,
};
for (const l of scenarioTableHeader(cloudwatchDefaults)) say(l);
const scenarios: BenchScenario[] = [];
for (const name of listScenarios()) {
  const scenario = loadScenario(name);
  const run = await runScenario(scenario);
  const row: BenchScenario = {
    run,
    cloudwatch: {
      metricsDelaySeconds: scenario.cloudwatch.metricsDelaySeconds,
      alarmEvaluationOffsetSeconds: scenario.cloudwatch.alarmEvaluationOffsetSeconds,
    },
  };
  scenarios.push(row);
  say(scenarioTableRow(row));
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
const decision: DecisionFigures = {
  events: N,
  meanWallMicros: Number((((performance.now() - start) / N) * 1000).toFixed(1)),
  cpuMedianMs: Number(stats(times).median.toFixed(3)),
};
say('\nDecision CPU time per alarm event (evaluate + decide, no I/O)');
say(
  `  ${N} events: mean ${decision.meanWallMicros.toFixed(1)} µs wall per event; cpuUsage granularity-limited median ${decision.cpuMedianMs.toFixed(3)} ms`,
);

// The Lambda bundles: the built functions (dist/lambda, built first when stale), as the construct deploys them.
say(
  '\nLambda bundles (dist/lambda/<fn>/: kB = all .mjs, init kB = loaded at cold import; cold init = import in a fresh node, median of 5)',
);
let bundles: BenchFigures['bundles'];
try {
  bundles = await measureBundles();
  for (const l of bundleTableLines(bundles)) say(l);
} catch (e) {
  bundles = { error: (e as Error).message };
  say(`  failed: ${bundles.error}`);
  process.exitCode = 1;
}

// The reconciler's cheap first pass over many applications.
say(
  '\nReconcile cycles over 1,000 emulated applications (MSF calls as the emulator counted them; goal ≤ 25 unchanged)',
);
say(`  ${'cycle'.padEnd(48)} ${'MSF calls'.padStart(9)} ${'described'.padStart(9)} ${'wall ms'.padStart(8)}`);
const reconcile = await measureReconcile();
for (const f of reconcile) {
  say(
    `  ${f.cycle.padEnd(48)} ${String(f.msfCalls).padStart(9)} ${String(f.described).padStart(9)} ${f.wallMs.toFixed(0).padStart(8)}`,
  );
}

// The fleet: 1,000 applications in 10 accounts, two sweeps, the second measured.
say('\nFleet: 1,000 emulated applications in 10 accounts, one central watchdog (bench/fleet.ts)');
let fleet: BenchFigures['fleet'];
try {
  fleet = await measureFleet();
  for (const l of fleetTableLines(fleet)) say(l);
  say('\n  Cost per month at list prices (bench/cost-model.ts; the README cost section):');
  for (const l of costTableRows(fleet.cost)) say(`  ${l}`);
} catch (e) {
  fleet = { error: (e as Error).message };
  say(`  failed: ${fleet.error}`);
  process.exitCode = 1;
}

if (json || jsonFile) {
  const out = JSON.stringify(
    toBenchJson({ cloudwatchDefaults, scenarios, decision, bundles, reconcile, fleet }),
    null,
    2,
  );
  if (json) console.log(out);
  if (jsonFile) writeFileSync(jsonFile, `${out}\n`);
}

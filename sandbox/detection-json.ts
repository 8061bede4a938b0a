import type { ScenarioReport } from './drill.ts';
import { type RestartLoopJson, restartLoopJson } from './loop-figures.ts';
import type { OnsetRule } from './onset.ts';
import { type PeerDetectionJson, peersJson } from './peers.ts';

/** One drill scenario's detection figures as JSON: `flink-watchdog drill --json` and `npm run bench -- --json` carry the same. */
export interface DetectionJson {
  /** See ScenarioReport.detectionOnset: the rule, its time (ISO-8601) and the incident; null without an incident. */
  detectionOnset: { rule: OnsetRule; at: string; incidentId: string } | null;
  /** Virtual seconds from the onset to the detector's decision (the incident's openedMs); null without an incident. */
  detectionSeconds: number | null;
  /** Virtual seconds from the onset to the watchdog's first mutating MSF call; null without one. */
  firstActionSeconds: number | null;
  /** Virtual seconds from the onset to the incident's RESOLVED; null when not recovered. */
  recoverySeconds: number | null;
  /** Peer rules on the same run; `detectionSeconds: null` = not detected. */
  peers: { operatorHealthCheck: PeerDetectionJson; awsDowntimeAlarm: PeerDetectionJson };
  /** For a restart loop: the threshold-th restart's datapoint and the decision's lag behind it; null otherwise. */
  restartLoop: RestartLoopJson | null;
}

/** The detection figures of a scenario report (times as ISO-8601, durations in virtual seconds). */
export function detectionJson(
  r: Pick<
    ScenarioReport,
    'detectionOnset' | 'detectionSeconds' | 'firstActionSeconds' | 'recoverySeconds' | 'peers' | 'restartLoop'
  >,
): DetectionJson {
  return {
    detectionOnset: r.detectionOnset
      ? {
          rule: r.detectionOnset.rule,
          at: new Date(r.detectionOnset.atMs).toISOString(),
          incidentId: r.detectionOnset.incidentId,
        }
      : null,
    detectionSeconds: r.detectionSeconds,
    firstActionSeconds: r.firstActionSeconds,
    recoverySeconds: r.recoverySeconds,
    peers: peersJson(r.peers),
    restartLoop: r.restartLoop ? restartLoopJson(r.restartLoop) : null,
  };
}

import { describe, expect, it } from 'vitest';
import { type RestartLoopEvidence, restartLoopFigures, restartLoopJson } from '#sandbox/loop-figures.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** 2026-03-02T14:00:00Z. */
const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);

/** Datapoints for consecutive minutes from T0, `null` = no datapoint. */
function minutes(values: Array<number | null>): RestartLoopEvidence['datapoints'] {
  return values.flatMap((value, i) => (value === null ? [] : [{ periodStartMs: T0 + i * MINUTE, value }]));
}

function evidence(over: Partial<RestartLoopEvidence>): RestartLoopEvidence {
  return {
    datapoints: [],
    onsetMs: T0 + 5 * MINUTE + 20 * SECOND,
    onsetToleranceMs: 5 * SECOND,
    decisionMs: T0 + 10 * MINUTE,
    threshold: 3,
    metricsDelayMs: 60 * SECOND,
    firstActionMs: undefined,
    counterAt: () => undefined,
    ...over,
  };
}

describe('Function: restartLoopFigures', () => {
  it('finds the period whose datapoint first shows the threshold-th restart and when it could be seen', () => {
    // Prepare: the loop starts in minute 5; the counter reaches 3 in minute 7; decided at 14:09:05
    const e = evidence({ datapoints: minutes([0, 0, 0, 0, 0, 1, 2, 3, 5]), decisionMs: T0 + 9 * MINUTE + 5 * SECOND });
    // Act
    const f = restartLoopFigures(e);
    // Assess: period 14:07 ends 14:08, + 60 s delay = 14:09:00; decided 5 s later
    expect(f).toMatchObject({
      threshold: 3,
      thresholdPeriodStartMs: T0 + 7 * MINUTE,
      thresholdVisibleMs: T0 + 9 * MINUTE,
      decisionAfterVisibleSeconds: 5,
    });
  });

  it('ignores an earlier job whose counter had already passed the threshold', () => {
    // Prepare: an old job reached 4 in minute 2; the new job's counter starts again at minute 5
    const f = restartLoopFigures(evidence({ datapoints: minutes([0, 2, 4, 4, 0, 1, 1, 3]) }));
    expect(f.thresholdPeriodStartMs).toBe(T0 + 7 * MINUTE);
  });

  it('takes the onset minute even when the drill saw the first restart a tick late, after the boundary', () => {
    // Prepare: restart at 14:04:58 seen at 14:05:00; minute 4's datapoint already shows 3 (a burst)
    const f = restartLoopFigures(evidence({ onsetMs: T0 + 5 * MINUTE, datapoints: minutes([0, 0, 0, 0, 3]) }));
    expect(f.thresholdPeriodStartMs).toBe(T0 + 4 * MINUTE);
  });

  it('stops at a counter reset: a new job is another loop', () => {
    const f = restartLoopFigures(evidence({ datapoints: minutes([0, 0, 0, 0, 0, 1, 2, 0, 1, 3]) }));
    expect(f).toMatchObject({
      thresholdPeriodStartMs: null,
      thresholdVisibleMs: null,
      decisionAfterVisibleSeconds: null,
    });
  });

  it('reports a decision made before the datapoint could be seen as negative', () => {
    const f = restartLoopFigures(
      evidence({ datapoints: minutes([0, 0, 0, 0, 0, 1, 3]), decisionMs: T0 + 7 * MINUTE + 30 * SECOND }),
    );
    // Visible at 14:08:00 (period 14:06 + 1 min + 60 s delay); decided 30 s before.
    expect(f.decisionAfterVisibleSeconds).toBe(-30);
  });

  it('gives the restart count at the first mutating call, null without one', () => {
    const counter = [
      { atMs: T0 + 5 * MINUTE, restarts: 1 },
      { atMs: T0 + 6 * MINUTE, restarts: 4 },
      { atMs: T0 + 8 * MINUTE, restarts: 6 },
    ];
    const counterAt = (ms: number) => counter.filter((c) => c.atMs <= ms).at(-1)?.restarts;
    expect(restartLoopFigures(evidence({ counterAt, firstActionMs: T0 + 7 * MINUTE })).restartsAtFirstAction).toBe(4);
    expect(restartLoopFigures(evidence({ counterAt })).restartsAtFirstAction).toBeNull();
  });
});

describe('Function: restartLoopJson', () => {
  it('renders times as ISO-8601 and keeps nulls', () => {
    const json = restartLoopJson(restartLoopFigures(evidence({ datapoints: minutes([0, 0, 0, 0, 0, 3]) })));
    expect(json).toEqual({
      threshold: 3,
      thresholdPeriodStart: '2026-03-02T14:05:00.000Z',
      thresholdVisibleAt: '2026-03-02T14:07:00.000Z',
      decisionAfterVisibleSeconds: 180,
      restartsAtFirstAction: null,
    });
  });
});

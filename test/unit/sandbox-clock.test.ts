import { describe, expect, it } from 'vitest';
import { isDrivableClock, MAX_SANDBOX_SPEED, SandboxClock, VirtualClock } from '#sandbox/clock.ts';

/** 2026-03-02T14:00:00Z. */
const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);

/** A hand-set wall clock: tests move it with `wall.ms += ...`. */
function fakeWall(startMs = 1_000_000): { ms: number; now: () => number } {
  const wall = { ms: startMs, now: () => wall.ms };
  return wall;
}

describe('Class: SandboxClock', () => {
  describe('Method: now', () => {
    it('stands still at speed 0 while the wall clock runs', () => {
      // Prepare
      const wall = fakeWall();
      const clock = new SandboxClock(T0, 0, wall.now);

      // Act
      wall.ms += 3_600_000;

      // Assess
      expect(clock.now()).toBe(T0);
      expect(clock.speed).toBe(0);
    });

    it('runs `speed` virtual seconds per wall-clock second', () => {
      // Prepare
      const wall = fakeWall();
      const clock = new SandboxClock(T0, 10, wall.now);

      // Act
      wall.ms += 1_500;

      // Assess
      expect(clock.now()).toBe(T0 + 15_000);
    });
  });

  describe('Method: advance', () => {
    it('steps a paused clock forward and leaves it paused', () => {
      // Prepare
      const wall = fakeWall();
      const clock = new SandboxClock(T0, 0, wall.now);

      // Act
      const returned = clock.advance(300_000);
      wall.ms += 60_000;

      // Assess
      expect(returned).toBe(T0 + 300_000);
      expect(clock.now()).toBe(T0 + 300_000);
    });

    it('keeps the time a running clock has already run, then keeps running', () => {
      // Prepare
      const wall = fakeWall();
      const clock = new SandboxClock(T0, 2, wall.now);
      wall.ms += 1_000;

      // Act
      clock.advance(60_000);
      wall.ms += 1_000;

      // Assess
      expect(clock.now()).toBe(T0 + 2_000 + 60_000 + 2_000);
    });

    it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses a step of %s ms and does not move', (ms) => {
      // Prepare
      const clock = new SandboxClock(T0, 0, fakeWall().now);

      // Act & Assess
      expect(() => clock.advance(ms)).toThrow(RangeError);
      expect(clock.now()).toBe(T0);
    });
  });

  describe('Method: setSpeed', () => {
    it('pauses a running clock at the virtual time it had reached', () => {
      // Prepare
      const wall = fakeWall();
      const clock = new SandboxClock(T0, 60, wall.now);
      wall.ms += 1_000;

      // Act
      clock.setSpeed(0);
      wall.ms += 10_000;

      // Assess
      expect(clock.now()).toBe(T0 + 60_000);
    });

    it('starts a paused clock running from where it stood', () => {
      // Prepare
      const wall = fakeWall();
      const clock = new SandboxClock(T0, 0, wall.now);
      wall.ms += 10_000;

      // Act
      clock.setSpeed(5);
      wall.ms += 2_000;

      // Assess
      expect(clock.now()).toBe(T0 + 10_000);
      expect(clock.speed).toBe(5);
    });

    it.each([-1, MAX_SANDBOX_SPEED + 1, Number.NaN])('refuses speed %s and keeps the old one', (speed) => {
      // Prepare
      const clock = new SandboxClock(T0, 1, fakeWall().now);

      // Act & Assess
      expect(() => clock.setSpeed(speed)).toThrow(/speed must be a number from 0 \(paused\) to 3600/);
      expect(clock.speed).toBe(1);
    });
  });

  describe('Method: constructor', () => {
    it('refuses a negative speed', () => {
      // Act & Assess
      expect(() => new SandboxClock(T0, -0.5, fakeWall().now)).toThrow(RangeError);
    });
  });
});

describe('Function: isDrivableClock', () => {
  it('tells a clock a client can drive from the drill’s own clock', () => {
    // Act & Assess
    expect(isDrivableClock(new SandboxClock(T0, 0))).toBe(true);
    expect(isDrivableClock(new VirtualClock(T0))).toBe(false);
  });
});

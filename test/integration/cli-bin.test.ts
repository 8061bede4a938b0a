import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('Command: flink-watchdog (cli/bin.ts)', () => {
  it('exits 0 without a stack trace when the reader closes stdout early (flink-watchdog --help | head -3)', async () => {
    // Prepare: the reading end of stdout is closed before the program writes, so every write gets EPIPE.
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', '--help'], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });

    // Act
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));

    // Assess
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

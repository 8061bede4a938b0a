/**
 * The `flink-watchdog` command. Built into dist/cli.js (the package's `bin`); `npm run cli -- ARGS` runs it from the
 * sources with tsx. The program itself is cli/program.ts, so tests run it in-process.
 */
import { runCli } from './program.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// stdout closed by the reader (`flink-watchdog --help | head -3`): nobody reads the rest, so stop quietly with 0.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = await runCli(process.argv.slice(2));

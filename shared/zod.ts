/**
 * The validator every module that reaches a Lambda bundle uses: `zod/mini` (the same checks and messages as `zod`,
 * with a functional API that bundlers tree-shake), with zod's English messages (`Invalid input: expected string,
 * received undefined`, …) installed as `zod` itself installs them. Without them `zod/mini` answers every problem with
 * `Invalid input`.
 *
 * Use `import * as z from '#shared/zod.ts'`, never `zod/mini` directly, so that the messages are installed before
 * anything parses. `config` is global: modules on classic `zod` (the CLI, the emulator) in the same process get the
 * same messages. Re-exported name by name (not as one namespace object) so that a bundle keeps only what it uses.
 */
import { en } from 'zod/locales';
import { config } from 'zod/mini';

config(en());

export * from 'zod/mini';

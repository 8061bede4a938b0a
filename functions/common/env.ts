import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';

/** Environment every watchdog function reads. `WATCHDOG_CONFIG` (JSON) wins over `WATCHDOG_CONFIG_PATH` (a file). */
export const CommonEnv = z
  .object({
    WATCHDOG_CONFIG: z.string().min(2).optional(),
    WATCHDOG_CONFIG_PATH: z.string().min(1).optional(),
    AWS_REGION: z.string().min(1).optional(),
  })
  .refine((e) => e.WATCHDOG_CONFIG !== undefined || e.WATCHDOG_CONFIG_PATH !== undefined, {
    message: 'set WATCHDOG_CONFIG (the config JSON) or WATCHDOG_CONFIG_PATH (a config file)',
  });
export type CommonEnv = z.infer<typeof CommonEnv>;

/**
 * Reads and validates the watchdog config named by the environment.
 * @throws ConfigError or Error naming the variable and the problem.
 */
export function loadConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WatchdogConfig {
  const parsed = CommonEnv.safeParse(env);
  if (!parsed.success) throw new Error(`environment: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const { WATCHDOG_CONFIG: json, WATCHDOG_CONFIG_PATH: path } = parsed.data;
  const source = json !== undefined ? 'WATCHDOG_CONFIG' : (path as string);
  let raw: unknown;
  try {
    raw = JSON.parse(json ?? readFileSync(path as string, 'utf8'));
  } catch (e) {
    throw new Error(`${source}: not readable JSON (${(e as Error).message})`, { cause: e });
  }
  return parseConfig(raw, source);
}

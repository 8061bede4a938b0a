import { existsSync, writeFileSync } from 'node:fs';
import { MsfAdapter } from '#shared/adapters/msf.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { isS3StateSource } from '#shared/config/warnings.ts';
import type { TerraformReader } from '#shared/desired/sources.ts';
import type { ApplicationStatus } from '#shared/domain/model.ts';
import type { ApplicationSummary, MsfPort } from '#shared/ports/msf.ts';
import {
  type AwsOptions,
  awsClientConfig,
  awsProblem,
  type CliProblem,
  DEFAULT_CONFIG_FILE,
  displayPath,
  exitCodeOf,
  formatProblem,
  mapLimit,
  type OutputOptions,
  resolveOutput,
  terraformReader,
  textLine,
  usageProblem,
} from './context.ts';
import { bold, dim, green } from './format.ts';

/** Applications whose tags are read at the same time (ListTagsForResource). */
const TAG_CONCURRENCY = 4;

/** The runtime environments the watchdog watches: Apache Flink (`FLINK-1_20`, `FLINK-2_2`, ...). */
const FLINK_RUNTIME = /^FLINK-\d+_\d+$/;

/** Options of `flink-watchdog init` (commander's parsed flags). */
export interface InitOptions extends OutputOptions, AwsOptions {
  /**
   * Terraform state sources, read now: local paths (a .tfstate, `terraform state pull` output) and `s3://BUCKET/KEY`;
   * only the `s3://` ones are written to `drift.terraformState` (the deployed reconciler cannot read a local path).
   */
  tfstate?: string[];
  /** `KEY=VALUE` filters: only applications carrying every one of these tags. */
  tag?: string[];
  /** Where to write the config. @default flink-watchdog.config.json */
  out?: string;
  /** Overwrite `out` when it exists. @default false */
  force?: boolean;
}

/** Adapters {@link initCommand} uses; each defaults to the AWS SDK one with `--region` / `--profile`. */
export interface InitDeps {
  msf?: MsfPort;
  /** Reads one Terraform state source. @default readTerraformState, `s3://` with an S3 client of `--region` / `--profile` */
  readTerraform?: TerraformReader;
}

/** One application written to the config. */
export interface InitApplication {
  /** MSF `ApplicationName`. */
  name: string;
  /** `RuntimeEnvironment` from ListApplications, e.g. FLINK-1_20. */
  runtimeEnvironment: string;
  /** `ApplicationStatus` from ListApplications. */
  status: ApplicationStatus;
  /** Its tags (ListTagsForResource). */
  tags: Record<string, string>;
  /** The Terraform resource address declaring it, when `--tfstate` was given and a state declares it. */
  terraformAddress?: string;
}

/** The `--output json` document of `flink-watchdog init`. */
export interface InitJson {
  /** The config file (relative to the working directory when below it). */
  file: string;
  /**
   * Whether the file was written (false when anything could not be read, no Apache Flink application was found, or
   * it exists without `--force`).
   */
  written: boolean;
  /** The applications listed in the config, all in observe mode. */
  applications: InitApplication[];
  /** Applications of the account not listed, and why (another runtime, a `--tag` filter). */
  skipped: Array<{ name: string; runtimeEnvironment: string; reason: string }>;
  /** Applications a Terraform state declares that are not in this account and Region. */
  terraformOnly: Array<{ name: string; address?: string; location: string }>;
  /**
   * What could not be read, or that no application was found; non-empty means nothing was written and exit code 1
   * (64 for a bad option).
   */
  problems: CliProblem[];
  /** Commands and checks to do next. */
  nextSteps: string[];
}

/**
 * Parses `--tag KEY=VALUE` filters.
 * @returns the tags, or a usage problem naming the bad one.
 */
export function parseTagFilters(raw: readonly string[] | undefined): Record<string, string> | CliProblem {
  const tags: Record<string, string> = {};
  for (const t of raw ?? []) {
    const eq = t.indexOf('=');
    if (eq < 1) return usageProblem('--tag', `--tag ${t}: expected KEY=VALUE, e.g. --tag team=streaming`);
    tags[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return tags;
}

/**
 * The config `init` writes: schemaVersion 1, `defaults.mode` observe, every application with its
 * `runtimeEnvironment` and an explicit `policy.mode` observe (the switch to review), and `drift.terraformState` when
 * states were given (the caller passes only `s3://` sources: the deployed reconciler cannot read a local path).
 * Validated with parseConfig before it is returned.
 * @throws ConfigError when an application name or runtime cannot be written (a bug: they come from MSF).
 */
export function initialConfig(
  applications: readonly Pick<InitApplication, 'name' | 'runtimeEnvironment'>[],
  terraformState: readonly string[],
): Record<string, unknown> {
  const config = {
    schemaVersion: 1,
    defaults: { mode: 'observe' },
    applications: applications.map((a) => ({
      name: a.name,
      runtimeEnvironment: a.runtimeEnvironment,
      policy: { mode: 'observe' },
    })),
    ...(terraformState.length > 0 ? { drift: { terraformState: [...terraformState] } } : {}),
  };
  parseConfig(config, 'the generated config');
  return config;
}

/** The message of the next step for `--tfstate` local paths (they are read now, not written). */
export const LOCAL_TFSTATE_STEP =
  'put your S3 backend key in drift.terraformState (s3://BUCKET/KEY) so the deployed reconciler can read it';

/**
 * What to do after `init` wrote `file`.
 * @param s3States the `s3://` states written to `drift.terraformState`
 * @param localStates the local `--tfstate` paths read now but not written
 */
function nextSteps(file: string, s3States: readonly string[], localStates: readonly string[]): string[] {
  const drift =
    s3States.length > 0
      ? `flink-watchdog drift --config ${file}`
      : `flink-watchdog drift --config ${file} --tfstate ${localStates.length > 0 ? localStates.join(' ') : 'terraform.tfstate'}`;
  return [
    `flink-watchdog validate --config ${file}`,
    `Review ${file}: every application is in observe mode, so the watchdog only reports what it would have done. Remove the applications you do not want watched; switch one to "policy": {"mode": "remediate"} only after its would-have notifications look right.`,
    ...(localStates.length > 0
      ? [`--tfstate ${localStates.join(' ')} was read now but not written to ${file}: ${LOCAL_TFSTATE_STEP}.`]
      : []),
    `Deploy: new FlinkWatchdog(stack, 'Watchdog', { config }) with this file as config, then cdk deploy.`,
    'Then watch it: flink-watchdog status --stack STACK, flink-watchdog history --stack STACK',
    `Compare with Terraform: ${drift}`,
  ];
}

/**
 * `flink-watchdog init [--tfstate SOURCE...] [--tag KEY=VALUE...] [--out FILE] [--force] [--region R] [--profile P]
 * [--output json|table|text]`: lists every MSF application of the account and Region (ListApplications, all pages)
 * and its tags (ListTagsForResource), keeps the Apache Flink ones carrying every `--tag`, reads the Terraform states
 * of `--tfstate` (which applications they declare), and writes a config ({@link initialConfig}: every application in
 * observe mode, its runtimeEnvironment, the `s3://` states in `drift.terraformState`, comment-free JSON that
 * parseConfig accepts) to `--out`. It refuses to overwrite an existing file without `--force`, and writes nothing
 * when anything could not be read or no Apache Flink application (carrying every `--tag`) was found. Then prints what
 * it found and what to do next; {@link InitJson} with `--output json`; with `--output text`, one
 * `NAME<TAB>RUNTIME<TAB>STATUS<TAB>TERRAFORM ADDRESS` line per listed application.
 * @returns 0 when written; 1 when the file exists (no `--force`), a call or a state failed, or no application was
 *   found; 64 for a bad `--tag`.
 */
export async function initCommand(opts: InitOptions, deps: InitDeps = {}): Promise<number> {
  const output = resolveOutput(opts);
  const aws = awsClientConfig(opts);
  const outFile = opts.out ?? DEFAULT_CONFIG_FILE;
  const sources = opts.tfstate ?? [];
  const out: InitJson = {
    file: displayPath(outFile),
    written: false,
    applications: [],
    skipped: [],
    terraformOnly: [],
    problems: [],
    nextSteps: [],
  };
  const finish = (): number => {
    if (output === 'json') console.log(JSON.stringify(out, null, 2));
    else if (output === 'text') {
      for (const a of out.applications) {
        console.log(textLine([a.name, a.runtimeEnvironment, a.status, a.terraformAddress]));
      }
    }
    for (const p of out.problems) console.error(formatProblem(p));
    return exitCodeOf(out.problems);
  };

  const tags = parseTagFilters(opts.tag);
  if ('kind' in tags) {
    out.problems.push(tags as CliProblem);
    return finish();
  }
  if (existsSync(outFile) && !opts.force) {
    out.problems.push({
      kind: 'config',
      location: out.file,
      message: `${out.file} exists: pass --force to overwrite it, or --out FILE to write another file`,
    });
    return finish();
  }

  const msf = deps.msf ?? new MsfAdapter({ clientConfig: aws });
  let summaries: ApplicationSummary[];
  try {
    summaries = await msf.listApplications();
  } catch (e) {
    out.problems.push(awsProblem('msf', undefined, e));
    return finish();
  }
  const flink = summaries.filter((s) => {
    if (FLINK_RUNTIME.test(s.runtimeEnvironment)) return true;
    out.skipped.push({
      name: s.name,
      runtimeEnvironment: s.runtimeEnvironment,
      reason: `runtime ${s.runtimeEnvironment || 'unknown'}: the watchdog watches Apache Flink applications (FLINK-*)`,
    });
    return false;
  });
  const tagged = await mapLimit(flink, TAG_CONCURRENCY, async (s) => {
    try {
      return { summary: s, tags: await msf.listTags(s.arn) };
    } catch (e) {
      out.problems.push(awsProblem('msf', s.name, e));
      return undefined;
    }
  });
  const wanted = Object.entries(tags);
  for (const t of tagged) {
    if (!t) continue;
    const missing = wanted.filter(([k, v]) => t.tags[k] !== v);
    if (missing.length > 0) {
      out.skipped.push({
        name: t.summary.name,
        runtimeEnvironment: t.summary.runtimeEnvironment,
        reason: `not tagged ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}`,
      });
      continue;
    }
    out.applications.push({
      name: t.summary.name,
      runtimeEnvironment: t.summary.runtimeEnvironment,
      status: t.summary.status,
      tags: t.tags,
    });
  }
  out.applications.sort((a, b) => a.name.localeCompare(b.name));

  if (sources.length > 0) {
    const read = deps.readTerraform ?? terraformReader(aws);
    const listed = new Map(out.applications.map((a) => [a.name, a]));
    const seen = new Set(summaries.map((s) => s.name));
    for (const source of sources) {
      try {
        const state = await read(source);
        for (const p of state.problems) {
          out.problems.push({ kind: 'desired-state', location: p.location, message: p.message });
        }
        for (const declared of state.applications) {
          const app = listed.get(declared.applicationName);
          const address = declared.source.address;
          if (app && address !== undefined) app.terraformAddress ??= address;
          if (!seen.has(declared.applicationName)) {
            out.terraformOnly.push({
              name: declared.applicationName,
              ...(address === undefined ? {} : { address }),
              location: source,
            });
          }
        }
      } catch (e) {
        out.problems.push({
          kind: 'desired-state',
          location: source,
          message: `Terraform state ${source}: ${e instanceof Error ? e.message : String(e)}`,
        });
      }
    }
  }
  if (out.applications.length === 0 && out.problems.length === 0) {
    const where =
      aws.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'the Region of your profile';
    const why =
      summaries.length === 0
        ? 'ListApplications returned none: check --region and --profile'
        : `${summaries.length} application${summaries.length === 1 ? '' : 's'} skipped: ${[...new Set(out.skipped.map((k) => k.reason))].join('; ')}`;
    out.problems.push({
      kind: 'config',
      location: out.file,
      message: `no Flink applications found in ${where} (${why}): nothing written to ${out.file}`,
    });
    return finish();
  }
  if (out.problems.length > 0) {
    out.problems.push({
      kind: 'config',
      location: out.file,
      message: `nothing written to ${out.file}: fix the errors above and run flink-watchdog init again`,
    });
    return finish();
  }

  const s3States = sources.filter(isS3StateSource);
  const localStates = sources.filter((source) => !isS3StateSource(source));
  const config = initialConfig(out.applications, s3States);
  try {
    writeFileSync(outFile, `${JSON.stringify(config, null, 2)}\n`, { flag: opts.force ? 'w' : 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    out.problems.push({
      kind: 'config',
      location: out.file,
      message:
        code === 'EEXIST'
          ? `${out.file} exists: pass --force to overwrite it, or --out FILE to write another file`
          : `cannot write ${out.file}: ${code ?? String(e)}`,
    });
    return finish();
  }
  out.written = true;
  out.nextSteps = nextSteps(out.file, s3States, localStates);

  if (output === 'table') {
    const region = aws.region ? ` in ${aws.region}` : '';
    console.log(
      `${green('✓')} wrote ${bold(out.file)}: ${out.applications.length} Apache Flink application${out.applications.length === 1 ? '' : 's'}${region}, all in observe mode`,
    );
    const width = Math.max(0, ...out.applications.map((a) => a.name.length));
    for (const a of out.applications) {
      const tf = sources.length === 0 ? '' : `  ${a.terraformAddress ?? dim('not in the Terraform state')}`;
      console.log(`  ${a.name.padEnd(width)}  ${a.runtimeEnvironment.padEnd(10)}  ${a.status.padEnd(14)}${tf}`);
    }
    for (const s of out.skipped) console.log(dim(`  skipped ${s.name}: ${s.reason}`));
    for (const t of out.terraformOnly) {
      console.log(
        dim(
          `  declared in ${t.location}${t.address ? ` (${t.address})` : ''} but not in this account and Region: ${t.name}`,
        ),
      );
    }
    console.log(`\n${bold('Next:')}`);
    out.nextSteps.forEach((step, i) => {
      console.log(`  ${i + 1}. ${step}`);
    });
  }
  return finish();
}

import { ConfigError, mergePolicy, parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import { type ConfigWarning, configWarnings } from '#shared/config/warnings.ts';
import {
  type CliProblem,
  EXIT_CODES,
  formatProblem,
  type OutputOptions,
  readConfigText,
  resolveOutput,
  textLine,
} from './context.ts';
import { bold, dim, green, yellow } from './format.ts';

/** Options of `flink-watchdog validate` (commander's parsed flags). */
export interface ValidateOptions extends OutputOptions {
  /** The config file. @default WATCHDOG_CONFIG (the JSON), else WATCHDOG_CONFIG_PATH, else ./flink-watchdog.config.json */
  config?: string;
}

/** Where a JSON text stops being JSON: 1-based line and column, the parser's message and the offending line. */
export interface JsonSyntaxError {
  /** 1-based line of the first character JSON cannot accept (or of the end of the text). */
  line: number;
  /** 1-based column in that line (UTF-16 code units, as editors count for most text). */
  column: number;
  /** The parser's message without its position, e.g. `Expected ',' or '}' after property value in JSON`. */
  message: string;
  /** The offending line and a caret under the column. */
  excerpt: string;
}

/** The `--output json` document of `flink-watchdog validate`. */
export interface ValidateJson {
  /** The file (relative to the working directory when below it) or `WATCHDOG_CONFIG`. */
  source: string;
  valid: boolean;
  /** Listed applications (`applications[]`), count; absent when invalid. */
  applications?: number;
  /** Listed applications whose effective policy `mode` is `remediate`, count. */
  remediate?: number;
  /** Listed applications whose effective policy `mode` is `observe`, count. */
  observe?: number;
  /** Listed applications whose effective policy `mode` is `approve` (people approve each action first), count. */
  approve?: number;
  /** The JSON syntax error, when the file is not JSON. */
  syntax?: JsonSyntaxError;
  /**
   * One entry per problem: `location` is the field path as parseConfig writes it
   * (`applications[0].policy.restartLoop.threshold`), `line:column` for a syntax error, or the file; `message` the
   * problem as cdk synth and the FlinkWatchdog construct print it.
   */
  problems: Array<{ location: string; message: string }>;
  /**
   * A valid config's warnings: what would not work once deployed, the same as cdk synth reports (code: the CDK
   * annotation id, e.g. `flink-watchdog:terraform-state-local-path`); empty when none; absent when invalid. They do
   * not change the exit code.
   */
  warnings?: ConfigWarning[];
}

/**
 * The offset of the first character of `text` that is not valid JSON (RFC 8259), or -1 when `text` is JSON. Used
 * only for a position: JSON.parse decides validity, and Node's messages carry no position for some errors.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail();
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '"') {
      string();
      return;
    }
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    number.lastIndex = i;
    if (c !== undefined && number.test(text)) {
      i = number.lastIndex;
      return;
    }
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (offset) {
    if (typeof offset === 'number') return offset;
    throw offset;
  }
}

/** The line, column and excerpt of `offset` in `text` (1-based; the end of the text for an offset past it). */
function position(text: string, offset: number): Omit<JsonSyntaxError, 'message'> {
  const at = Math.min(Math.max(offset, 0), text.length);
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const column = at - lineStart + 1;
  const lineEnd = text.indexOf('\n', lineStart);
  const source = text.slice(lineStart, lineEnd === -1 ? text.length : lineEnd).replace(/\r$/, '');
  return { line, column, excerpt: `${source}\n${' '.repeat(column - 1)}^` };
}

/**
 * Parses `text` as JSON.
 * @returns the value, or where and why it is not JSON (a byte order mark counts as not JSON, as for JSON.parse).
 */
export function parseJsonWithPosition(
  text: string,
): { ok: true; value: unknown } | { ok: false; error: JsonSyntaxError } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    // Node 20: "... in JSON at position 18" or `Unexpected token '}', "..." is not valid JSON`; Node 22 adds "(line 3 column 5)".
    const message = raw
      .replace(/\s*\(line \d+ column \d+\)$/, '')
      .replace(/ at position \d+$/, '')
      .replace(/, ".*" is not valid JSON$/s, ' in JSON');
    const offset = jsonErrorOffset(text);
    return { ok: false, error: { message, ...position(text, offset === -1 ? text.length : offset) } };
  }
}

/** Counts of a valid config: listed applications and their effective modes (defaults, then the application's policy). */
export function modeCounts(config: WatchdogConfig): {
  applications: number;
  remediate: number;
  observe: number;
  approve: number;
} {
  const modes = config.applications.map((a) => mergePolicy(config.defaults, a.policy ?? {}).mode);
  return {
    applications: modes.length,
    remediate: modes.filter((m) => m === 'remediate').length,
    observe: modes.filter((m) => m === 'observe').length,
    approve: modes.filter((m) => m === 'approve').length,
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** What else a valid config turns on, one short line each, for the readable output. */
function summaryLines(config: WatchdogConfig): string[] {
  const lines: string[] = [];
  const defaultMode = mergePolicy(config.defaults).mode;
  if (config.optInTag) {
    lines.push(
      `opt-in tag ${config.optInTag.key}=${config.optInTag.value}: applications carrying it are watched too, in ${defaultMode} mode (defaults.mode)`,
    );
  }
  if (config.runbooks) {
    lines.push(`runbooks: a command topic, ${plural(config.runbooks.publishers.length, 'allowed publisher')}`);
  }
  const states = config.drift?.terraformState?.length ?? 0;
  if (states > 0) lines.push(`drift: compared with ${plural(states, 'Terraform state')}`);
  const accounts = config.fleet?.accounts?.length ?? 0;
  if (accounts > 0) lines.push(`fleet: ${plural(accounts, 'member account')}`);
  return lines;
}

/**
 * `flink-watchdog validate [--config F] [--output json|table|text]`: checks a watchdog config offline (no AWS call):
 * the JSON syntax (with line and column), then every field with `parseConfig`, the validation cdk synth and the
 * FlinkWatchdog construct run, with the same messages. Prints `valid: N applications, M in remediate mode[, A in
 * approve mode], K in observe mode` (and what else the config turns on), or each problem on stderr; {@link ValidateJson}
 * with `--output json`; with `--output text`, `valid<TAB>N<TAB>M<TAB>K<TAB>A` (A: in approve mode), or one `LOCATION<TAB>MESSAGE` line per problem.
 * A valid config's warnings (shared/config/warnings.ts, the ones cdk synth reports) go to stderr as
 * `warning: MESSAGE` (in the JSON document as `warnings`).
 * @returns 0 when valid (with or without warnings), 1 when the file cannot be read, is not JSON or has invalid
 *   fields.
 */
export async function validateCommand(opts: ValidateOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const output = resolveOutput(opts);
  const read = readConfigText(opts.config, env);
  const out: ValidateJson = { source: read.source, valid: false, problems: [] };
  let config: WatchdogConfig | undefined;
  const finish = (summary: string[] = []): number => {
    if (output === 'json') console.log(JSON.stringify(out, null, 2));
    else if (output === 'text') {
      if (out.valid) console.log(textLine(['valid', out.applications, out.remediate, out.observe, out.approve]));
      else for (const p of out.problems) console.log(textLine([p.location, p.message]));
    } else if (out.valid) {
      console.log(
        `${green('✓')} ${bold('valid:')} ${plural(out.applications ?? 0, 'application')}, ${out.remediate} in remediate mode, ${out.approve ? `${out.approve} in approve mode, ` : ''}${out.observe} in observe mode ${dim(`(${out.source})`)}`,
      );
      if (config) for (const line of summaryLines(config)) console.log(dim(`  ${line}`));
    }
    if (output !== 'json') for (const w of out.warnings ?? []) console.error(`${yellow('warning:')} ${w.message}`);
    if (output !== 'text' && !out.valid) {
      for (const line of summary) console.error(line);
    }
    return out.valid ? EXIT_CODES.ok : EXIT_CODES.error;
  };

  if (!read.ok) {
    out.problems.push({ location: read.source, message: read.problem.message });
    return finish([formatProblem(read.problem)]);
  }
  const json = parseJsonWithPosition(read.text);
  if (!json.ok) {
    const { line, column, message, excerpt } = json.error;
    out.syntax = json.error;
    const problem: CliProblem = {
      kind: 'config',
      location: `${read.source}:${line}:${column}`,
      message: `${read.source}:${line}:${column}: not valid JSON (line ${line}, column ${column}): ${message.replace(/ in JSON$/, '')}`,
    };
    out.problems.push({ location: problem.location, message: problem.message });
    return finish([formatProblem(problem), ...excerpt.split('\n').map((l) => `  ${l}`)]);
  }
  try {
    config = parseConfig(json.value, read.source);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const issue of e.issues) {
      const colon = issue.indexOf(': ');
      out.problems.push({ location: colon === -1 ? read.source : issue.slice(0, colon), message: issue });
    }
    return finish([
      formatProblem({ message: `invalid watchdog configuration in ${read.source}:` }),
      ...e.issues.map((i) => `  - ${i}`),
    ]);
  }
  out.valid = true;
  Object.assign(out, modeCounts(config));
  out.warnings = configWarnings(config);
  return finish();
}

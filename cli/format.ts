/** HH:MM:SS of a virtual time (UTC). */
export function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** `YYYY-MM-DD HH:MM:SSZ` (UTC) of an epoch-ms time. */
export function utcTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** Whether ANSI colours are written; the CLI settles it once per run from --no-color, NO_COLOR and the terminal. */
let color = process.stdout.isTTY === true && !process.env.NO_COLOR;

/** Switches ANSI colours of every helper below on or off (cli/context.ts `applyOutputOptions` calls it). */
export function setColor(enabled: boolean): void {
  color = enabled;
}

const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
export const green = (s: string) => paint('32', s);
export const red = (s: string) => paint('31', s);
export const yellow = (s: string) => paint('33', s);
export const dim = (s: string) => paint('2', s);
export const bold = (s: string) => paint('1', s);

/**
 * Application keys: how the watchdog names an MSF application across accounts and Regions.
 *
 * An application in the watchdog's own account and Region is named by its MSF ApplicationName alone (`orders`), as it
 * always was. An application in another account or Region (a member account, see infra/member-stack.ts) is named
 * `NAME@ACCOUNT.REGION` (`orders@111122223333.eu-west-1`). MSF application names use `[a-zA-Z0-9_.-]`
 * (CreateApplication `ApplicationName` pattern in the Kinesis Analytics V2 API model), so `@` never occurs in a name
 * and a key reads back unambiguously. The key is what the ledger, locks, incidents and notifications use; only the
 * adapters that call AWS turn it back into an account, a Region and a name.
 */

/** Where an application lives and what it is called. */
export interface ApplicationRef {
  /** MSF ApplicationName. */
  name: string;
  /** 12-digit AWS account id; absent: the watchdog's own account. */
  accountId?: string;
  /** AWS Region, e.g. `eu-west-1`; absent: the watchdog's own Region. */
  region?: string;
}

/** The watchdog's own account and Region (where its stack runs). */
export interface HomeCell {
  accountId: string;
  region: string;
}

/**
 * Longest application key, characters: an MSF ApplicationName (at most 128, CreateApplication `ApplicationName`), `@`,
 * a 12-digit account id, `.`, and a Region name (at most 32 here: the longest AWS Region name today, e.g.
 * `ap-southeast-7` or `us-gov-west-1`, has 14).
 */
export const APPLICATION_KEY_MAX_LENGTH = 128 + 1 + 12 + 1 + 32;

const KEY = /^([a-zA-Z0-9_.-]+)@(\d{12})\.([a-z]{2}(?:-[a-z]+)+-\d+)$/;

/**
 * The key of an application: its bare name in the home account and Region (or when either is unknown), else
 * `NAME@ACCOUNT.REGION`.
 */
export function applicationKey(ref: ApplicationRef, home?: HomeCell): string {
  const accountId = ref.accountId ?? home?.accountId;
  const region = ref.region ?? home?.region;
  if (accountId === undefined || region === undefined) return ref.name;
  if (home && accountId === home.accountId && region === home.region) return ref.name;
  return `${ref.name}@${accountId}.${region}`;
}

/** The parts of a key; a bare name has no account or Region (the home cell). */
export function parseApplicationKey(key: string): ApplicationRef {
  const m = KEY.exec(key);
  if (!m) return { name: key };
  return { name: m[1] as string, accountId: m[2] as string, region: m[3] as string };
}

/** The MSF ApplicationName of a key. */
export function applicationNameOf(key: string): string {
  return parseApplicationKey(key).name;
}

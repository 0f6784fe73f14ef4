// Checks the JSON bodies of /register and /auth/login, in the seed's order, then Parley's own rules.
import { limits } from '../../protocol/index.ts';
import type { Settings } from '../config.ts';
import { unstorableIn } from '../unicode.ts';

type Field = 'username' | 'password' | 'fullname' | 'code' | 'new_password';

/**
 * The seed's checks: the body must be a JSON object (whatever the Content-Type); then every field's
 * presence, then every field's type, then that none is empty. Returns the problem, or the fields.
 * An `optional` field may be missing (or null); given, it is checked as the others are, after them.
 */
export function readFields<F extends Field, O extends Field = never>(
  body: string,
  fields: readonly F[],
  optional: readonly O[] = [],
): { problem: string } | { values: Record<F, string> & Partial<Record<O, string>> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { problem: 'not a valid json' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { problem: 'not a valid json' };
  const record = parsed as Record<string, unknown>;
  for (const field of fields) if (record[field] === undefined || record[field] === null) return { problem: `${field} required` };
  const given = [...fields, ...optional.filter((field) => record[field] !== undefined && record[field] !== null)];
  for (const field of given) if (typeof record[field] !== 'string') return { problem: `${field} should be a string` };
  for (const field of given) if (record[field] === '') return { problem: `${field} should not be empty` };
  // A lone surrogate would be hashed or stored as U+FFFD: two different passwords would be the same one.
  for (const field of given) {
    const unstorable = unstorableIn(record[field] as string);
    if (unstorable === 'nul') return { problem: `${field} should not contain the NUL character` };
    if (unstorable) return { problem: `${field} should be well-formed Unicode text (it holds a lone surrogate)` };
  }
  const values = Object.fromEntries(given.map((field) => [field, record[field]]));
  return { values: values as Record<F, string> & Partial<Record<O, string>> };
}

const usernamePattern = /^[A-Za-z0-9_.-]+$/;

/** Parley's rules for a new account, beyond the seed's; returns the first one broken. */
/** Parley's rules for a password (new accounts, changes and resets). */
export function passwordProblem(settings: Settings, password: string, field = 'password'): string | undefined {
  const length = [...password].length;
  if (length < settings.PASSWORD_MIN_LENGTH) return `${field} must be at least ${settings.PASSWORD_MIN_LENGTH} characters long`;
  if (length > limits.passwordMax) return `${field} must be at most ${limits.passwordMax} characters long`;
  return undefined;
}

/** The rules for a new username (a person's or a bot's); returns the first one broken. */
export function usernameProblem(username: string): string | undefined {
  const { min, max } = limits.username;
  if (username.length < min || username.length > max) return `username must be ${min} to ${max} characters long`;
  if (!usernamePattern.test(username)) return "username may contain only letters, digits, '_', '.' and '-'";
  return undefined;
}

export function newAccountProblem(settings: Settings, values: Record<'username' | 'password' | 'fullname', string>): string | undefined {
  const { username, password, fullname } = values;
  const problem = usernameProblem(username) ?? passwordProblem(settings, password);
  if (problem) return problem;
  if (fullname.trim() === '') return 'fullname should not be blank';
  if ([...fullname].length > limits.name) return `fullname must be at most ${limits.name} characters long`;
  return undefined;
}

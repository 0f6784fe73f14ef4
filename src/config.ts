// Settings: read from environment variables once at start, validated, with defaults.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import * as v from 'valibot';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { parseEndpointHosts } from './push/endpoints.ts';
import { vapidPublicKeyOf } from './push/vapid.ts';

function integerSetting(name: string, fallback: number, min: number, max: number) {
  const rule = `${name} must be a whole number from ${min} to ${max}`;
  return v.pipe(
    v.optional(v.string(), String(fallback)),
    v.regex(/^\d+$/, rule),
    v.transform(Number),
    v.minValue(min, rule),
    v.maxValue(max, rule),
  );
}

/** A number of hours that may have a fraction (`0.5`, `0.001` in tests), from `min` to `max`. */
function hoursSetting(name: string, fallback: number, min: number, max: number) {
  const rule = `${name} must be a number of hours from ${min} to ${max} (such as 24 or 0.5)`;
  return v.pipe(
    v.optional(v.string(), String(fallback)),
    v.regex(/^\d+(\.\d+)?$/, rule),
    v.transform(Number),
    v.minValue(min, rule),
    v.maxValue(max, rule),
  );
}

function choiceSetting<const T extends readonly string[]>(name: string, choices: T, fallback: T[number]) {
  return v.pipe(
    v.optional(v.string(), fallback),
    v.transform((value) => choices.find((choice) => choice.toLowerCase() === value.toLowerCase()) ?? value),
    v.picklist(choices, `${name} must be one of ${choices.join(', ')}`),
  );
}

const origin = v.pipe(
  v.string(),
  v.check((value) => URL.canParse(value) && new URL(value).origin === value, 'CORS_ALLOW_ORIGIN must list origins such as http://localhost:5173 (scheme, host and port only)'),
);

// An IP address, or a host name (labels of letters, digits and hyphens); dotted numbers must be an IPv4 address.
const hostName = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const isHost = (value: string) => isIP(value) !== 0 || (hostName.test(value) && !/^[\d.]+$/.test(value));

/** A trusted proxy: one address, or a CIDR range (`10.0.0.0/8`, `fd00::/8`). */
export type ProxyRange = { address: string; prefix: number | undefined; family: 'ipv4' | 'ipv6' };

function proxyRange(text: string): ProxyRange | undefined {
  const [address = '', prefix, ...rest] = text.split('/');
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (!family || rest.length || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) return undefined;
  if (prefix !== undefined && Number(prefix) > (family === 'ipv4' ? 32 : 128)) return undefined;
  return { address, prefix: prefix === undefined ? undefined : Number(prefix), family };
}

const proxy = v.pipe(
  v.string(),
  v.check((text) => proxyRange(text) !== undefined, (issue) => `TRUST_PROXY must list proxy addresses or CIDR ranges such as 127.0.0.1, 10.0.0.0/8 or fd00::/8 (not ${JSON.stringify(issue.input)})`),
  v.transform((text) => proxyRange(text)!),
);

const endpointHosts = v.pipe(
  v.optional(v.string(), 'browsers'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return parseEndpointHosts(dataset.value);
    } catch (error) {
      addIssue({ message: (error as Error).message });
      return NEVER;
    }
  }),
);

const webhookUrl = v.pipe(
  v.string(),
  v.check((value) => {
    if (!URL.canParse(value)) return false;
    const url = new URL(value);
    return ['http:', 'https:'].includes(url.protocol) && !url.username && !url.password && !url.hash;
  }, 'PUSH_WEBHOOK_URL must be an http:// or https:// URL without a user name, password or fragment, such as https://bridge.internal/parley'),
);

/** NODE_ID's shape: what may appear in a Redis key and a log line without quoting. */
export const nodeIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const;

const SettingsSchema = v.pipe(
  v.object({
    PORT: integerSetting('PORT', 8000, 0, 65535),
    HOST: v.pipe(
      v.optional(v.string(), '0.0.0.0'),
      v.check(isHost, 'HOST must be an IP address of this machine (such as 0.0.0.0, 127.0.0.1 or ::) or a host name that resolves to one'),
    ),
    // PostgreSQL instead of SQLite: postgres://user:password@host:5432/database (sslmode=require etc. in the URL).
    DATABASE_URL: v.optional(v.pipe(
      v.string(),
      v.check((value) => URL.canParse(value) && ['postgres:', 'postgresql:'].includes(new URL(value).protocol), 'DATABASE_URL must be a postgres:// URL, such as postgres://parley:secret@localhost:5432/parley'),
    )),
    DATABASE_POOL: integerSetting('DATABASE_POOL', 10, 2, 1000),
    DATABASE_CA_FILE: v.optional(v.pipe(v.string(), v.nonEmpty('DATABASE_CA_FILE must name a file'))),
    DBPATH: v.pipe(v.optional(v.string(), 'data/parley.db'), v.nonEmpty('DBPATH must not be empty')),
    // Default: `files` beside the database (data/files).
    FILES_DIR: v.optional(v.pipe(v.string(), v.nonEmpty('FILES_DIR must not be empty'))),
    MAX_UPLOAD_BYTES: integerSetting('MAX_UPLOAD_BYTES', 25 * 1024 * 1024, 1, 10 * 1024 * 1024 * 1024),
    UPLOAD_QUOTA_BYTES: integerSetting('UPLOAD_QUOTA_BYTES', 1024 * 1024 * 1024, 1, 2 ** 50),
    UPLOADS_PER_HOUR: integerSetting('UPLOADS_PER_HOUR', 100, 1, 1_000_000),
    UNATTACHED_FILE_HOURS: hoursSetting('UNATTACHED_FILE_HOURS', 6, 0.001, 8760),
    // Bytes of uploads nothing uses yet, from one address and on the whole server (accounts are cheap, addresses less so).
    UNATTACHED_BYTES_PER_ADDRESS: integerSetting('UNATTACHED_BYTES_PER_ADDRESS', 512 * 1024 * 1024, 1, 2 ** 50),
    UNATTACHED_BYTES_TOTAL: integerSetting('UNATTACHED_BYTES_TOTAL', 4 * 1024 * 1024 * 1024, 1, 2 ** 50),
    // Free space uploads must leave on the disks of FILES_DIR and of the SQLite database, so that the database stays writable.
    FREE_SPACE_RESERVE_BYTES: integerSetting('FREE_SPACE_RESERVE_BYTES', 1024 * 1024 * 1024, 0, 2 ** 50),
    // Images Parley cannot clean of their metadata (HEIC, TIFF, camera raw…): refused unless the operator keeps them as they are.
    UNSTRIPPED_IMAGES: choiceSetting('UNSTRIPPED_IMAGES', ['refuse', 'keep'], 'refuse'),
    JWTSECRET: v.optional(v.pipe(v.string(), v.nonEmpty('JWTSECRET must not be empty when set'))),
    CORS_ALLOW_ORIGIN: v.pipe(
      v.optional(v.string(), 'http://localhost:5173'),
      v.transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item !== '')),
      v.array(origin),
    ),
    COOKIE_SECURE: v.pipe(choiceSetting('COOKIE_SECURE', ['true', 'false'], 'true'), v.transform((value) => value === 'true')),
    COOKIE_SAMESITE: choiceSetting('COOKIE_SAMESITE', ['Strict', 'Lax', 'None'], 'Lax'),
    PASSWORD_MIN_LENGTH: integerSetting('PASSWORD_MIN_LENGTH', 8, 1, 1024),
    LOG_LEVEL: choiceSetting('LOG_LEVEL', logLevels, 'info'),
    MAX_SOCKETS_PER_USER: integerSetting('MAX_SOCKETS_PER_USER', 16, 1, 10000),
    RATE_LIMIT_EVENTS: integerSetting('RATE_LIMIT_EVENTS', 50, 1, 1_000_000),
    RATE_LIMIT_BURST: integerSetting('RATE_LIMIT_BURST', 200, 1, 1_000_000),
    // Server time (ms) one account's events may take a second on a node, over all its sockets, and at once.
    RATE_LIMIT_WORK_MS: integerSetting('RATE_LIMIT_WORK_MS', 100, 1, 1_000_000),
    RATE_LIMIT_WORK_BURST_MS: integerSetting('RATE_LIMIT_WORK_BURST_MS', 250, 1, 1_000_000),
    LOGIN_MAX_FAILURES: integerSetting('LOGIN_MAX_FAILURES', 5, 1, 1000),
    // Password hashes (argon2id, ~100 ms of a core each) running at once; one core is left for the chat.
    PASSWORD_HASHES_AT_ONCE: integerSetting('PASSWORD_HASHES_AT_ONCE', Math.max(1, availableParallelism() - 1), 1, 256),
    // A refresh token just rotated still works this long (two tabs refreshing at once); 0 turns it off.
    REFRESH_GRACE_SECONDS: integerSetting('REFRESH_GRACE_SECONDS', 30, 0, 300),
    REGISTRATIONS_PER_HOUR: integerSetting('REGISTRATIONS_PER_HOUR', 20, 1, 1_000_000),
    // What one account may do to others unasked, an hour (counted over every node of a cluster).
    CONVERSATIONS_PER_HOUR: integerSetting('CONVERSATIONS_PER_HOUR', 60, 1, 1_000_000),
    CHANNELS_PER_HOUR: integerSetting('CHANNELS_PER_HOUR', 10, 1, 1_000_000),
    ADDS_PER_HOUR: integerSetting('ADDS_PER_HOUR', 500, 1, 1_000_000),
    MAX_MESSAGE_LENGTH: integerSetting('MAX_MESSAGE_LENGTH', 4000, 1, 60_000),
    LOGIN_TOKEN_SECONDS: integerSetting('LOGIN_TOKEN_SECONDS', 3600, 1, 86_400),
    EVENT_LOG_DAYS: integerSetting('EVENT_LOG_DAYS', 30, 1, 3650),
    IDLE_TIMEOUT: integerSetting('IDLE_TIMEOUT', 120, 8, 960),
    MAX_BACKPRESSURE: integerSetting('MAX_BACKPRESSURE', 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    SQLITE_SYNCHRONOUS: choiceSetting('SQLITE_SYNCHRONOUS', ['NORMAL', 'FULL'], 'NORMAL'),
    // Threads with their own read-only connections for expensive reads (searches); one core is left for the server's thread.
    SQLITE_READERS: integerSetting('SQLITE_READERS', Math.min(4, Math.max(1, availableParallelism() - 1)), 1, 64),
    SMTP_URL: v.optional(v.pipe(
      v.string(),
      v.check((value) => URL.canParse(value) && ['smtp:', 'smtps:'].includes(new URL(value).protocol), 'SMTP_URL must be an smtp:// or smtps:// URL, such as smtp://user:pass@mail.example.com:587'),
    )),
    USERNAME_HOLD_DAYS: integerSetting('USERNAME_HOLD_DAYS', 30, 0, 3650),
    MAIL_FROM: v.pipe(v.optional(v.string(), 'Parley <parley@localhost>'), v.nonEmpty('MAIL_FROM must not be empty')),
    TRUST_PROXY: v.pipe(
      v.optional(v.string(), ''),
      v.transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item !== '')),
      v.array(proxy),
    ),
    TRUST_PROXY_HEADER: choiceSetting('TRUST_PROXY_HEADER', ['X-Forwarded-For', 'Forwarded'], 'X-Forwarded-For'),
    SHUTDOWN_DRAIN: integerSetting('SHUTDOWN_DRAIN', 0, 0, 300),
    METRICS_TOKEN: v.optional(v.pipe(v.string(), v.minLength(16, 'METRICS_TOKEN must be at least 16 characters (e.g. openssl rand -hex 32)'))),
    VAPID_PUBLIC_KEY: v.optional(v.string()),
    VAPID_PRIVATE_KEY: v.optional(v.pipe(
      v.string(),
      v.check((value) => vapidPublicKeyOf(value) !== undefined, 'VAPID_PRIVATE_KEY must be a P-256 private key: 32 bytes in base64url (43 characters), as npx web-push generate-vapid-keys prints'),
    )),
    VAPID_SUBJECT: v.pipe(
      v.optional(v.string(), 'mailto:parley@localhost'),
      v.check((value) => /^mailto:[^@\s]+@[^@\s]+$/.test(value) || (URL.canParse(value) && new URL(value).protocol === 'https:'), 'VAPID_SUBJECT must be a mailto: address or an https: URL where the push services can reach you, such as mailto:ops@chat.example.com'),
    ),
    PUSH_ENDPOINT_HOSTS: endpointHosts,
    PUSH_WEBHOOK_URL: v.optional(webhookUrl),
    PUSH_WEBHOOK_SECRET: v.optional(v.pipe(v.string(), v.minLength(32, 'PUSH_WEBHOOK_SECRET must be at least 32 characters (e.g. openssl rand -hex 32)'))),
    PUSH_PREVIEW: v.pipe(choiceSetting('PUSH_PREVIEW', ['true', 'false'], 'true'), v.transform((value) => value === 'true')),
    PUSH_COALESCE_SECONDS: integerSetting('PUSH_COALESCE_SECONDS', 30, 0, 3600),
    PUSH_TTL_SECONDS: integerSetting('PUSH_TTL_SECONDS', 86_400, 0, 2_419_200),
    PUSH_CONCURRENCY: integerSetting('PUSH_CONCURRENCY', 32, 1, 1000),

    REDIS_URL: v.optional(v.pipe(
      v.string(),
      v.check((value) => URL.canParse(value) && ['redis:', 'rediss:'].includes(new URL(value).protocol) && new URL(value).hostname !== '', 'REDIS_URL must be a redis:// or rediss:// URL, such as redis://127.0.0.1:6379 or rediss://user:pass@redis.example.com:6380/0'),
    )),
    NODE_ID: v.optional(v.pipe(v.string(), v.regex(nodeIdPattern, 'NODE_ID must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit'))),
    NODE_TIMEOUT: integerSetting('NODE_TIMEOUT', 10, 2, 300),
  }),
  v.check(
    (settings) => settings.COOKIE_SAMESITE !== 'None' || settings.COOKIE_SECURE,
    'COOKIE_SAMESITE=None needs COOKIE_SECURE=true: browsers drop SameSite=None cookies that are not Secure',
  ),
  v.check(
    (settings) => (settings.VAPID_PUBLIC_KEY === undefined) === (settings.VAPID_PRIVATE_KEY === undefined),
    'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together: set both, or neither to have a pair made and kept beside the database',
  ),
  v.check(
    (settings) => settings.VAPID_PRIVATE_KEY === undefined || settings.VAPID_PUBLIC_KEY === vapidPublicKeyOf(settings.VAPID_PRIVATE_KEY),
    'VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY',
  ),
  v.check(
    (settings) => settings.REDIS_URL === undefined || settings.DATABASE_URL !== undefined,
    'REDIS_URL needs DATABASE_URL: the nodes of a cluster share one PostgreSQL database (a SQLite file belongs to one node)',
  ),
  v.check(
    (settings) => (settings.PUSH_WEBHOOK_URL === undefined) === (settings.PUSH_WEBHOOK_SECRET === undefined),
    'PUSH_WEBHOOK_URL and PUSH_WEBHOOK_SECRET go together: the secret signs every webhook call',
  ),
  v.transform((settings) => ({ ...settings, FILES_DIR: settings.FILES_DIR ?? join(dirname(settings.DBPATH), 'files') })),
);

export type Settings = v.InferOutput<typeof SettingsSchema>;

/** Parses the environment; throws an Error listing every bad setting. */
export function readSettings(env: Record<string, string | undefined>): Settings {
  const result = v.safeParse(SettingsSchema, env);
  if (result.success) return result.output;
  const problems = result.issues.map((issue) => issue.message);
  throw new Error(`invalid settings: ${[...new Set(problems)].join('; ')}`);
}

// Settings: read from environment variables once at start, validated, with defaults.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import * as v from 'valibot';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { parseEndpointHosts } from './push/endpoints.ts';
import { vapidPublicKeyOf } from './push/vapid.ts';
import { logLevels } from './log.ts';
import { parseOidcProviders } from './auth/oidc-settings.ts';

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

/** A setting of hosts Parley may send to, as PUSH_ENDPOINT_HOSTS lists them. */
const hostsSetting = (setting: string, fallback: string) => v.pipe(
  v.optional(v.string(), fallback),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return parseEndpointHosts(dataset.value, setting);
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

/**
 * A setting as docs/configuration.md shows it (`npm run settings:docs`): what it means, and its default in
 * words where the value alone would not say it (made at start, or depending on the machine).
 */
function documented<S extends v.GenericSchema>(schema: S, meaning: string, shownDefault?: string) {
  return v.pipe(schema, v.description<v.InferOutput<S>, string>(meaning), v.metadata<v.InferOutput<S>, { shownDefault: string | undefined }>({ shownDefault }));
}

/** NODE_ID's shape: what may appear in a Redis key and a log line without quoting. */
export const nodeIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;


/** Every setting, in the order docs/configuration.md lists them. */
export const settingFields = {
  PORT: documented(
    integerSetting('PORT', 8000, 0, 65535),
    'TCP port (0 picks a free one; the start-up log line names it)',
  ),
  HOST: documented(
    v.pipe(
      v.optional(v.string(), '0.0.0.0'),
      v.check(isHost, 'HOST must be an IP address of this machine (such as 0.0.0.0, 127.0.0.1 or ::) or a host name that resolves to one'),
    ),
    'interface to listen on: an IP address of this machine (`0.0.0.0` for all IPv4 ones, `::` for all) or a host name that resolves to one; an address the machine does not have, or a name that does not resolve, stops the start with a message naming `HOST`',
  ),
  DBPATH: documented(
    v.pipe(v.optional(v.string(), 'data/parley.db'), v.nonEmpty('DBPATH must not be empty')),
    'SQLite database file; missing parent folders are created. It must be a SQLite database (Parley\'s, or the [seed backend\'s](storage.md#adopting-the-seed-backends-database), which is adopted) or not exist yet; anything else stops the start, untouched. While the server runs it holds `<DBPATH>.lock`: a second server on the same database stops with `DBPATH=… is in use`',
  ),
  DATABASE_URL: documented(
    v.optional(v.pipe(
      v.string(),
      v.check((value) => URL.canParse(value) && ['postgres:', 'postgresql:'].includes(new URL(value).protocol), 'DATABASE_URL must be a postgres:// URL, such as postgres://parley:secret@localhost:5432/parley'),
    )),
    '`postgres://user:password@host:5432/database`: PostgreSQL instead of SQLite (see [Choosing the storage engine](storage.md#choosing-the-storage-engine)). TLS by the URL\'s `sslmode` (`require`, `verify-full`, …). A start-up that cannot connect stops with a message naming the setting (the password shown as `***`)',
  ),
  DATABASE_POOL: documented(
    integerSetting('DATABASE_POOL', 10, 2, 1000),
    'connections (2–1000) to PostgreSQL: one of them carries the group commit\'s transactions, the others the reads outside them',
  ),
  DATABASE_CA_FILE: documented(
    v.optional(v.pipe(v.string(), v.nonEmpty('DATABASE_CA_FILE must name a file'))),
    'a PEM file of the certificate authority that signed PostgreSQL\'s certificate (the server\'s certificate is then verified)',
  ),
  FILES_DIR: documented(
    v.optional(v.pipe(v.string(), v.nonEmpty('FILES_DIR must not be empty'))),
    'folder of uploaded files (created with its parents when missing; a file in the way stops the start with a message naming `FILES_DIR`). Each file is kept once, however often it is uploaded, named by the SHA-256 of its bytes in two levels of subfolders (`ab/cd/abcd…`); `tmp/` holds uploads being received and images being cleaned, each named after the server process writing it, which holds a lock on a small `<machine>+<id>.owner` file there while it runs. At start, whatever processes of this machine that have ended (a crash, `kill -9`) left there is removed at once; what other machines\' processes left (a shared network folder), at the first start after it is an hour old. Every node of a cluster must have the same one (one folder, or one network folder mounted on each machine): a node whose folder lacks the cluster\'s `.parley-cluster` mark is refused at start (see docs/cluster.md)',
    '`files` beside the database (`data/files`)',
  ),
  MAX_UPLOAD_BYTES: documented(
    integerSetting('MAX_UPLOAD_BYTES', 25 * 1024 * 1024, 1, 10 * 1024 * 1024 * 1024),
    'the largest file an upload may hold (1 byte to 10 GiB); a larger one is cut off with 413 `file too large: the limit is N bytes` as soon as it passes the limit (or at once when its `Content-Length` says so), and leaves nothing behind',
  ),
  UPLOAD_QUOTA_BYTES: documented(
    integerSetting('UPLOAD_QUOTA_BYTES', 1024 * 1024 * 1024, 1, 2 ** 50),
    'bytes of files one person may have uploaded (counted while the files exist; deleting a message with files frees them); past it an upload is answered 413 `upload quota exceeded: N of your Q bytes are left (UPLOAD_QUOTA_BYTES); …`',
  ),
  UPLOADS_PER_HOUR: documented(
    integerSetting('UPLOADS_PER_HOUR', 100, 1, 1_000_000),
    'uploads one person may start per hour (one address 4 × as many), then 429 with `Retry-After`; at most 3 uploads of one person (12 of one address) run at once',
  ),
  UNATTACHED_FILE_HOURS: documented(
    hoursSetting('UNATTACHED_FILE_HOURS', 6, 0.001, 8760),
    'hours (a fraction allowed, 0.001–8760) an upload that no message, profile or conversation uses is kept; then it is removed, and its bytes once no file refers to them. Sooner when such uploads fill three quarters of `UNATTACHED_BYTES_TOTAL`, but never in its first sixth (an hour of the default)',
  ),
  // Bytes of uploads nothing uses yet, from one address and on the whole server (accounts are cheap, addresses less so).
  UNATTACHED_BYTES_PER_ADDRESS: documented(
    integerSetting('UNATTACHED_BYTES_PER_ADDRESS', 512 * 1024 * 1024, 1, 2 ** 50),
    'bytes of unattached uploads (not yet in a message, profile or conversation) that may come from one address, whatever the accounts; past it 413 `unattached uploads from your address are at their limit: …`',
  ),
  UNATTACHED_BYTES_TOTAL: documented(
    integerSetting('UNATTACHED_BYTES_TOTAL', 4 * 1024 * 1024 * 1024, 1, 2 ** 50),
    'bytes of unattached uploads the whole server (every node) may hold; past it 507 `the server holds as many unattached uploads as it may (UNATTACHED_BYTES_TOTAL): …`',
  ),
  // Free space uploads must leave on the disks of FILES_DIR and of the SQLite database, so that the database stays writable.
  FREE_SPACE_RESERVE_BYTES: documented(
    integerSetting('FREE_SPACE_RESERVE_BYTES', 1024 * 1024 * 1024, 0, 2 ** 50),
    'bytes an upload must leave free on the disks of `FILES_DIR` and of the SQLite database, so that the database stays writable (a full disk stops every write: messages, logins); an upload that would use them is refused with 507 `not enough disk space: …`, before it starts when its length says so, or as it streams. `0` turns the check off',
  ),
  // Images Parley cannot clean of their metadata (HEIC, TIFF, camera raw…): refused unless the operator keeps them as they are.
  UNSTRIPPED_IMAGES: documented(
    choiceSetting('UNSTRIPPED_IMAGES', ['refuse', 'keep'], 'refuse'),
    'an image Parley cannot clean of its metadata (HEIC, TIFF, camera raw, JPEG XL…, or one whose bytes do not decode): `refuse` answers 415 (400 when it does not decode) and stores nothing; `keep` stores it as it came, GPS position and all, and says `"metadata_kept": true` in the upload\'s answer (see [Files](files.md)). Refused by default because a phone photo\'s location would otherwise reach everyone who downloads it, irreversibly, while a refused uploader can send it as JPEG',
  ),
  JWTSECRET: documented(
    v.optional(v.pipe(v.string(), v.nonEmpty('JWTSECRET must not be empty when set'))),
    'secret that signs login tokens. When unset, 32 random bytes are generated once and kept in `jwt-secret` (mode 0600) beside the database, and the log says so; tokens then survive restarts. A `jwt-secret` file shorter than 32 bytes (emptied, truncated) stops the start: delete it to have a new one made (everyone logs in again). There is no fixed demo secret. [Two-factor](two-factor.md) secrets and recovery codes are keyed from it too: a new secret turns them all unusable',
    '*(generated)*',
  ),
  CORS_ALLOW_ORIGIN: documented(
    v.pipe(
      v.optional(v.string(), 'http://localhost:5173'),
      v.transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item !== '')),
      v.array(origin),
    ),
    'comma-separated origins (`scheme://host[:port]`) whose pages may call the server with credentials; also the origins allowed to open `/ws` and to `POST`',
  ),
  COOKIE_SECURE: documented(
    v.pipe(choiceSetting('COOKIE_SECURE', ['true', 'false'], 'true'), v.transform((value) => value === 'true')),
    '`Secure` attribute of the cookie (`true` or `false`; browsers accept Secure cookies from `http://localhost`)',
  ),
  COOKIE_SAMESITE: documented(
    choiceSetting('COOKIE_SAMESITE', ['Strict', 'Lax', 'None'], 'Lax'),
    '`Strict`, `Lax` or `None` (`None` requires `COOKIE_SECURE=true`)',
  ),
  PASSWORD_MIN_LENGTH: documented(
    integerSetting('PASSWORD_MIN_LENGTH', 8, 1, 1024),
    'shortest password accepted at registration (1–1024)',
  ),
  MAX_SOCKETS_PER_USER: documented(
    integerSetting('MAX_SOCKETS_PER_USER', 16, 1, 10000),
    'sockets one user may hold open at once (tabs, devices), counted over every node of a cluster; one more is closed with 4004',
  ),
  RATE_LIMIT_EVENTS: documented(
    integerSetting('RATE_LIMIT_EVENTS', 50, 1, 1_000_000),
    'events a socket may send per second, sustained (a token bucket); a frame past it is answered `rate_limited`',
  ),
  RATE_LIMIT_BURST: documented(
    integerSetting('RATE_LIMIT_BURST', 200, 1, 1_000_000),
    'the bucket\'s size: events a socket may send at once; a socket that goes on sending past this many refusals in a row is closed with 1008',
  ),
  // Server time (ms) one account's events may take a second on a node, over all its sockets, and at once.
  RATE_LIMIT_WORK_MS: documented(
    integerSetting('RATE_LIMIT_WORK_MS', 100, 1, 1_000_000),
    'milliseconds of server time one account\'s events may take a second on a node, over all its sockets there: each event is charged its unit of work\'s share of the server\'s time while it ran (not time it waited while others\' work ran), after it ran; an account that has spent more waits, its events answered `rate_limited` with the wait in ms, until it is paid off',
  ),
  RATE_LIMIT_WORK_BURST_MS: documented(
    integerSetting('RATE_LIMIT_WORK_BURST_MS', 250, 1, 1_000_000),
    'the server time an account may spend at once before `RATE_LIMIT_WORK_MS` applies: about the longest one account\'s events can keep everyone else\'s waiting',
  ),
  LOGIN_MAX_FAILURES: documented(
    integerSetting('LOGIN_MAX_FAILURES', 5, 1, 1000),
    'wrong passwords for one account from one address before it must wait (1 s, doubling with each further failure, up to 15 min; answered 429 with `Retry-After`). One address may fail 4 × as often across accounts, and an account 20 × as often across addresses — except from an address or device that has held a session of that account, so strangers cannot lock the owner out. Each attempt is counted before its password is hashed (a burst sent at once gets no more tries), and wrong passwords given to `change_password` and `delete_account` count the same. Wrong [second-factor codes](two-factor.md) are counted the same way, on counts of their own',
  ),
  TWO_FACTOR_REQUIRED: documented(
    choiceSetting('TWO_FACTOR_REQUIRED', ['nobody', 'admins', 'everyone'], 'nobody'),
    '`nobody`, `admins` or `everyone`: whose accounts must have [two-factor login](two-factor.md). Such an account without it still logs in with its password, but its sockets answer every event except `ping`, `self`, `enable_2fa` and `confirm_2fa` with `two_factor_required` until a first code confirms the set-up; it cannot `disable_2fa` (an admin can `admin_reset_2fa`). Whether an account is covered (its role) is read when its socket opens. Sessions started by [single sign-on](single-sign-on.md) are not held to it: the provider checks who logs in',
  ),
  // Password hashes (argon2id, ~100 ms of a core each) running at once; one core is left for the chat.
  PASSWORD_HASHES_AT_ONCE: documented(
    integerSetting('PASSWORD_HASHES_AT_ONCE', Math.max(1, availableParallelism() - 1), 1, 256),
    'password hashes (argon2id, about 0.1 s of a core each) running at once; others wait their turn, address by address, and past 8 waiting per slot a login is answered 429 at once. One address may have 8 checks under way',
    'cores − 1 (at least 1)',
  ),
  // A refresh token just rotated still works this long (two tabs refreshing at once); 0 turns it off.
  REFRESH_GRACE_SECONDS: documented(
    integerSetting('REFRESH_GRACE_SECONDS', 30, 0, 300),
    'a refresh token just rotated is still taken this long (two tabs refreshing at once, or a client whose answer was lost retrying): it gets both cookies anew, and the refresh token the first answer handed out becomes used in turn; after the grace, using a used token ends the session as a stolen one (0 turns the grace off)',
  ),
  REGISTRATIONS_PER_HOUR: documented(
    integerSetting('REGISTRATIONS_PER_HOUR', 20, 1, 1_000_000),
    'accounts one address may register per hour (then 429 with `Retry-After`)',
  ),
  // What one account may do to others unasked, an hour (counted over every node of a cluster).
  CONVERSATIONS_PER_HOUR: documented(
    integerSetting('CONVERSATIONS_PER_HOUR', 60, 1, 1_000_000),
    'groups and direct conversations one account may create per hour, counted over every node (asking again for a direct conversation you have does not count); the next is answered `rate_limited` `at most N new conversations an hour per account (CONVERSATIONS_PER_HOUR): retry in M min`',
  ),
  CHANNELS_PER_HOUR: documented(
    integerSetting('CHANNELS_PER_HOUR', 10, 1, 1_000_000),
    'channels one account may create per hour (apart from conversations), then `rate_limited`',
  ),
  ADDS_PER_HOUR: documented(
    integerSetting('ADDS_PER_HOUR', 500, 1, 1_000_000),
    'people one account may add to conversations or invite into them per hour, counting everyone listed by `create_conversation` and `add_members` (each would be notified): a request that would pass it adds nobody and is answered `rate_limited` with the minutes to wait; one listing more than the whole hour\'s allowance is answered `bad_request`',
  ),
  CONTACTS_PER_HOUR: documented(
    integerSetting('CONTACTS_PER_HOUR', 100, 1, 1_000_000),
    'people one account may add as contacts per hour, counted over every node (adding writes the contact on both sides and tells the other person, so otherwise a few accounts could fill anyone\'s list of 5,000); the next is answered `rate_limited` `at most N contacts added an hour per account (CONTACTS_PER_HOUR): retry in M min`. Adding back someone who added you does not count',
  ),
  WEBHOOK_POSTS_PER_MINUTE: documented(
    integerSetting('WEBHOOK_POSTS_PER_MINUTE', 60, 1, 100_000),
    'posts to one incoming webhook\'s URL a minute (over every node), its uploads (`/files` under it) counted with them, then 429 with `Retry-After`, whether the secret is right or not (counted before anything is read; a rotated secret is a new URL); a post\'s body is at most 64 KiB',
  ),
  COMMAND_HOSTS: documented(
    hostsSetting('COMMAND_HOSTS', ''),
    'comma-separated hosts a slash command\'s `https:` URL may name (`create_command`), as `PUSH_ENDPOINT_HOSTS` lists them (`host`, `host:port`, `*.domain`, an IP address with its port); checked again at each call. Empty: no slash commands',
  ),
  COMMAND_TIMEOUT_MS: documented(
    integerSetting('COMMAND_TIMEOUT_MS', 3000, 100, 30_000),
    'milliseconds a slash command\'s server has to answer each try of `run_command`; no answer in time (or a 5xx) is tried again, 3 tries in all, 250 ms then 500 ms apart, then the sender is told it failed',
  ),
  MAX_MESSAGE_LENGTH: documented(
    integerSetting('MAX_MESSAGE_LENGTH', 4000, 1, 60_000),
    'characters a message may hold (1–60,000; frames stay within 64 KiB)',
  ),
  LOGIN_TOKEN_SECONDS: documented(
    integerSetting('LOGIN_TOKEN_SECONDS', 3600, 1, 86_400),
    'seconds (1–86,400) a login token lives (the cookie\'s `Max-Age` and the JWT\'s `exp`); a client refreshes it with `POST /auth/refresh` before then',
  ),
  OIDC_PROVIDERS: documented(
    v.pipe(
      v.optional(v.string(), ''),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        if (dataset.value.trim() === '') return [];
        try {
          return parseOidcProviders(dataset.value);
        } catch (error) {
          addIssue({ message: (error as Error).message });
          return NEVER;
        }
      }),
    ),
    'OpenID Connect providers people may log in with ([Single sign-on](single-sign-on.md)): a JSON array, or the path of a file holding one, of `{"name", "issuer", "client_id", "client_secret_file", "scopes", "username_claim", "email_domains", "link_by_email"}`. Each is at `/auth/oidc/<name>`; a bad entry or an unreadable secret file stops the start with a message naming `OIDC_PROVIDERS`',
  ),
  PUBLIC_URL: documented(
    v.optional(v.pipe(
      v.string(),
      v.check((value) => URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol) && new URL(value).origin === value.replace(/\/$/, ''), 'PUBLIC_URL must be the http:// or https:// origin browsers reach Parley at, such as https://chat.example.com'),
      v.transform((value) => value.replace(/\/$/, '')),
    )),
    'the origin browsers reach Parley at (`https://chat.example.com`), needed with `OIDC_PROVIDERS`: providers send people back to `<PUBLIC_URL>/auth/oidc/<name>/callback`, and to `<PUBLIC_URL>/` after logging out of them',
  ),
  PASSWORD_LOGIN: documented(
    choiceSetting('PASSWORD_LOGIN', ['on', 'unlinked', 'off'], 'on'),
    '`on`: `POST /auth/login` takes passwords; `unlinked`: only for accounts not linked to a single sign-on provider (a linked one is answered 403); `off`: for nobody, and `POST /register` is off too (403): accounts come from the providers of `OIDC_PROVIDERS`',
  ),
  EVENT_LOG_DAYS: documented(
    integerSetting('EVENT_LOG_DAYS', 30, 1, 3650),
    'days the event log keeps events for `sync`; older ones are pruned (hourly)',
  ),
  RETENTION_DAYS: documented(
    integerSetting('RETENTION_DAYS', 0, 0, 36500),
    'days (0–36,500) messages are kept, in every conversation that has not set its own (`set_retention`); older ones are deleted with their files, search entries and logged events. 0: kept for ever',
  ),
  RETENTION_ROUND_SECONDS: documented(
    integerSetting('RETENTION_ROUND_SECONDS', 3600, 1, 86400),
    'seconds (1–86,400) between rounds of the retention job (one node of a cluster runs each round; the round at start runs on every node)',
  ),
  IDLE_TIMEOUT: documented(
    integerSetting('IDLE_TIMEOUT', 120, 8, 960),
    'seconds (8–960): a socket quiet this long is pinged, and closed if it does not answer (a dead peer)',
  ),
  MAX_BACKPRESSURE: documented(
    integerSetting('MAX_BACKPRESSURE', 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    'bytes that may wait to be written to one socket; a socket that reads slower is closed with 4007 (and reconnects) instead of growing the server\'s memory or missing messages',
  ),
  SQLITE_SYNCHRONOUS: documented(
    choiceSetting('SQLITE_SYNCHRONOUS', ['NORMAL', 'FULL'], 'NORMAL'),
    '`NORMAL` or `FULL`: how hard SQLite pushes a commit to disk (see [Durability](protocol.md#durability))',
  ),
  // Threads with their own read-only connections for expensive reads (searches); one core is left for the server's thread.
  SQLITE_READERS: documented(
    integerSetting('SQLITE_READERS', Math.min(4, Math.max(1, availableParallelism() - 1)), 1, 64),
    'threads (1–64), each with its own read-only connection, that run searches, listings, `get_messages`, `get_files` and `sync` away from the server\'s thread (SQLite only; on PostgreSQL they run on its pool, outside the batch)',
    'cores − 1, from 1 to 4',
  ),
  SMTP_URL: documented(
    v.optional(v.pipe(
      v.string(),
      v.check((value) => URL.canParse(value) && ['smtp:', 'smtps:'].includes(new URL(value).protocol), 'SMTP_URL must be an smtp:// or smtps:// URL, such as smtp://user:pass@mail.example.com:587'),
    )),
    '`smtp://user:pass@host:587` (or `smtps://`): mail (password reset and email verification codes) goes through this server. Unset, each mail is written as an `.eml` file in `outbox/` beside the database and the log names the file',
  ),
  MAIL_FROM: documented(
    v.pipe(v.optional(v.string(), 'Parley <parley@localhost>'), v.nonEmpty('MAIL_FROM must not be empty')),
    'the `From` of those mails',
  ),
  USERNAME_HOLD_DAYS: documented(
    integerSetting('USERNAME_HOLD_DAYS', 30, 0, 3650),
    'days (0–3650) the username of a deleted account stays taken, so nobody can pose as its owner at once',
  ),
  LOG_LEVEL: documented(
    choiceSetting('LOG_LEVEL', logLevels, 'info'),
    '`debug`, `info`, `warn`, `error` or `silent`',
  ),
  TRUST_PROXY: documented(
    v.pipe(
      v.optional(v.string(), ''),
      v.transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item !== '')),
      v.array(proxy),
    ),
    'comma-separated addresses and CIDR ranges of reverse proxies (`127.0.0.1`, `10.0.0.0/8`, `fd00::/8`): from these the client\'s address is taken from their header (see [Behind a reverse proxy](operations.md#behind-a-reverse-proxy)). Unset, forwarded headers are ignored',
  ),
  TRUST_PROXY_HEADER: documented(
    choiceSetting('TRUST_PROXY_HEADER', ['X-Forwarded-For', 'Forwarded'], 'X-Forwarded-For'),
    'the header those proxies write: `X-Forwarded-For` or `Forwarded` (RFC 7239); the other one is never read',
  ),
  SHUTDOWN_DRAIN: documented(
    integerSetting('SHUTDOWN_DRAIN', 0, 0, 300),
    'seconds (0–300) between a stop signal and closing the sockets, while `/readyz` answers 503 so a load balancer stops sending clients',
  ),
  METRICS_TOKEN: documented(
    v.optional(v.pipe(v.string(), v.minLength(16, 'METRICS_TOKEN must be at least 16 characters (e.g. openssl rand -hex 32)'))),
    'at least 16 characters: turns `GET /metrics` on, for requests with `Authorization: Bearer <token>`. Unset, `/metrics` does not exist (404)',
  ),
  VAPID_PUBLIC_KEY: documented(
    v.optional(v.string()),
    'the public key of `VAPID_PRIVATE_KEY`, base64url as `npx web-push generate-vapid-keys` prints it: both or neither, and they must belong together',
    '*(generated)*',
  ),
  VAPID_PRIVATE_KEY: documented(
    v.optional(v.pipe(
      v.string(),
      v.check((value) => vapidPublicKeyOf(value) !== undefined, 'VAPID_PRIVATE_KEY must be a P-256 private key: 32 bytes in base64url (43 characters), as npx web-push generate-vapid-keys prints'),
    )),
    'the server\'s private key for Web Push (RFC 8292), base64url as `npx web-push generate-vapid-keys` prints it, with `VAPID_PUBLIC_KEY`. When unset, a private key is made once and kept in `vapid-private-key` (mode 0600) beside the database, and the log gives its public key. A `vapid-private-key` file that does not hold a P-256 private key stops the start: delete it to have a new one made. A new key cuts off every browser subscribed with the old one (see [Notifications](notifications.md))',
    '*(generated)*',
  ),
  VAPID_SUBJECT: documented(
    v.pipe(
      v.optional(v.string(), 'mailto:parley@localhost'),
      v.check((value) => /^mailto:[^@\s]+@[^@\s]+$/.test(value) || (URL.canParse(value) && new URL(value).protocol === 'https:'), 'VAPID_SUBJECT must be a mailto: address or an https: URL where the push services can reach you, such as mailto:ops@chat.example.com'),
    ),
    'a `mailto:` address or `https:` URL where push services can reach the operator; it is in every push request. Set it to a real one: Apple\'s service refuses some',
  ),
  PUSH_ENDPOINT_HOSTS: documented(
    hostsSetting('PUSH_ENDPOINT_HOSTS', 'browsers'),
    'comma-separated hosts a Web Push subscription\'s endpoint may name: `browsers` (Chrome\'s, Firefox\'s, Safari\'s and Edge\'s push services), `host` (port 443), `host:port`, `*.domain` (exactly one more label) or an IP address with its port (`127.0.0.1:8443`, `[::1]:8443`). Anything else is refused, so a client cannot make Parley send requests into your network; empty, no Web Push at all',
  ),
  PUSH_WEBHOOK_URL: documented(
    v.optional(webhookUrl),
    '`http://` or `https://` URL of your bridge to native apps (FCM, APNs, ntfy…): notifications for `webhook` devices are POSTed there ([the format](notifications.md#bridging-to-native-apps)). Unset, webhook devices get nothing',
  ),
  PUSH_WEBHOOK_SECRET: documented(
    v.optional(v.pipe(v.string(), v.minLength(32, 'PUSH_WEBHOOK_SECRET must be at least 32 characters (e.g. openssl rand -hex 32)'))),
    'at least 32 characters, required with `PUSH_WEBHOOK_URL`: signs each webhook call',
  ),
  PUSH_PREVIEW: documented(
    v.pipe(choiceSetting('PUSH_PREVIEW', ['true', 'false'], 'true'), v.transform((value) => value === 'true')),
    '`false`: notifications carry no text of the message, only who wrote where',
  ),
  PUSH_COALESCE_SECONDS: documented(
    integerSetting('PUSH_COALESCE_SECONDS', 30, 0, 3600),
    'seconds (0–3600): after a notification about a conversation, a device gets the next one about it no sooner than this; what arrives meanwhile becomes one notification with the unread count',
  ),
  PUSH_TTL_SECONDS: documented(
    integerSetting('PUSH_TTL_SECONDS', 86_400, 0, 2_419_200),
    'seconds (0–2,419,200) a push service keeps a notification for a device that is off; also how long Parley retries one that fails',
  ),
  PUSH_CONCURRENCY: documented(
    integerSetting('PUSH_CONCURRENCY', 32, 1, 1000),
    'notifications being sent at once, at most (1–1000)',
  ),
  REDIS_URL: documented(
    v.optional(v.pipe(
      v.string(),
      v.check((value) => URL.canParse(value) && ['redis:', 'rediss:'].includes(new URL(value).protocol) && new URL(value).hostname !== '', 'REDIS_URL must be a redis:// or rediss:// URL, such as redis://127.0.0.1:6379 or rediss://user:pass@redis.example.com:6380/0'),
    )),
    '`redis://[user:pass@]host:port[/db]` (or `rediss://`): the Redis that [several nodes](cluster.md) share: set, the server runs as a node of a cluster (presence, typing and closes across nodes, events delivered in `seq` order whichever node committed them). Needs `DATABASE_URL`',
  ),
  NODE_ID: documented(
    v.optional(v.pipe(v.string(), v.regex(nodeIdPattern, 'NODE_ID must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit'))),
    'this node\'s name among several: 1–64 letters, digits, `.`, `_`, `-`. Unset, the machine\'s name and a random part, new at every start',
    '*(generated)*',
  ),
  NODE_TIMEOUT: documented(
    integerSetting('NODE_TIMEOUT', 10, 2, 300),
    'seconds (2–300) after which a node that stopped beating counts as dead and the users only on it go offline; nodes beat every quarter of it',
  ),
};

const SettingsSchema = v.pipe(
  v.object(settingFields),
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
  v.check(
    (settings) => settings.OIDC_PROVIDERS.length === 0 || settings.PUBLIC_URL !== undefined,
    'OIDC_PROVIDERS needs PUBLIC_URL: providers send people back to <PUBLIC_URL>/auth/oidc/<name>/callback',
  ),
  v.check(
    (settings) => settings.PASSWORD_LOGIN !== 'off' || settings.OIDC_PROVIDERS.length > 0,
    'PASSWORD_LOGIN=off needs OIDC_PROVIDERS: otherwise nobody could log in',
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

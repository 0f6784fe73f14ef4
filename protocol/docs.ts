// Generates protocol/README.md, the protocol reference, from the schemas: `npm run protocol:docs`.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as v from 'valibot';
import { beforeSecondFactor, events, pushes, limits, type EventSpec } from './index.ts';
import { afterClose, closeCodes, errorCodes, errors, type ErrorName } from './errors.ts';

// Valibot schemas and actions are plain objects; these are the parts of them the reference reads.
type Node = {
  kind: string;
  type: string;
  message?: unknown;
  pipe?: Node[];
  requirement?: unknown;
  description?: string;
  wrapped?: Node;
  item?: Node;
  entries?: Record<string, Node>;
  options?: Node[];
  literal?: unknown;
};

const node = (schema: v.GenericSchema) => schema as unknown as Node;
/** The actions of a schema's pipe, nested pipes included (`v.pipe(v.pipe(a, x), y)` holds x and y). */
function actions(schema: Node): Node[] {
  if (!schema.pipe) return [];
  const [base, ...rest] = schema.pipe;
  return [...(base && base !== schema ? actions(base) : []), ...rest];
}

function describe(schema: Node): string {
  switch (schema.type) {
    case 'number':
      return actions(schema).some((action) => action.type === 'integer' || action.type === 'safe_integer') ? 'integer' : 'number';
    case 'literal':
      return JSON.stringify(schema.literal);
    case 'array':
      return `${describe(schema.item!)}[]`;
    case 'object':
      return `{ ${Object.entries(schema.entries!).map(([key, value]) => `${key}${optional(value) ? '?' : ''}: ${describe(value)}`).join(', ')} }`;
    case 'nullable':
    case 'nullish':
      return `${describe(schema.wrapped!)} \\| null`;
    case 'optional':
      return describe(schema.wrapped!);
    case 'union':
      return schema.options!.map(describe).join(' \\| ');
    case 'picklist':
      return (schema.options as unknown as string[]).map((option) => JSON.stringify(option)).join(' \\| ');
    default:
      return schema.type;
  }
}

const optional = (schema: Node) => ['optional', 'nullish'].includes(schema.type);

/** The rules a field's pipes add, in words. */
function rules(schema: Node): string[] {
  const found: string[] = [];
  const visit = (current: Node) => {
    for (const action of actions(current)) {
      if (action.type === 'description' && action.description) found.push(action.description);
      else if (action.type === 'max_length') found.push(`at most ${String(action.requirement)} ${current.type === 'array' ? 'items' : 'characters'}`);
      else if (action.type === 'min_length') found.push(`at least ${String(action.requirement)} characters`);
      else if (action.type === 'non_empty') found.push('not empty');
      else if (action.type === 'check' && typeof action.message === 'string') found.push(`rule: ${action.message}`);
    }
    if (current.wrapped) visit(current.wrapped);
  };
  visit(schema);
  return found;
}

/** Every error message a field can answer, in the order its checks run. */
function messages(schema: Node): string[] {
  const found: string[] = [];
  const visit = (current: Node) => {
    if (typeof current.message === 'string') found.push(current.message);
    if (current.wrapped) visit(current.wrapped);
    if (current.item) visit(current.item);
    for (const action of actions(current)) if (typeof action.message === 'string') found.push(action.message);
  };
  visit(schema);
  return [...new Set(found)];
}

/** Inline code for a table; `{name}` placeholders are shown as `<name>`. */
const code = (text: string) => `\`${text.replace(/\{(\w+)\}/g, '<$1>').replaceAll('|', '\\|')}\``;

function errorLines(spec: EventSpec): string[] {
  const entries = node(spec.request).entries!;
  const guarded = spec.guard?.fields ?? [];
  const fieldErrors = (keys: readonly string[]) => keys.flatMap((key) => messages(entries[key]!).map((text) => `${code(text)} (\`bad_request\`)`));
  const named = (names: readonly ErrorName[]) => names.map((name) => `${code(errors[name].text)} (\`${errors[name].code}\`)`);
  const rest = Object.keys(entries).filter((key) => !guarded.includes(key));
  return [...fieldErrors(guarded), ...named(spec.guard?.errors ?? []), ...fieldErrors(rest), ...named(spec.errors)];
}

function eventSection(type: string, spec: EventSpec): string {
  const entries = Object.entries(node(spec.request).entries!);
  const fields = entries.length
    ? ['| field | type | required | rules |', '|---|---|---|---|', ...entries.map(([key, schema]) => `| \`${key}\` | ${describe(schema)} | ${optional(schema) ? 'no' : 'yes'} | ${rules(schema).join('; ') || '—'} |`)].join('\n')
    : 'No fields.';
  const example = JSON.stringify(exampleRequest(type, spec));
  const failures = errorLines(spec);
  return [
    `### \`${type}\``,
    '',
    spec.summary,
    '',
    `Request: \`${example}\``,
    '',
    fields,
    '',
    `Success \`data\`: \`${describe(node(spec.reply)).replaceAll('\\|', '|')}\``,
    '',
    failures.length ? `Errors, in the order they are checked:\n\n${failures.map((line, index) => `${index + 1}. ${line}`).join('\n')}` : 'Errors: none of its own.',
    '',
    spec.fanout ? `Fan-out: ${spec.fanout}` : 'Only the requesting socket receives the reply.',
    '',
    ...(spec.cost ? [`Rate limit: counts as ${spec.cost} events (it costs the server more than most).`, ''] : []),
  ].join('\n');
}

/** A value the field accepts, for the example request: every example is a valid request (a test checks it). */
function sample(schema: Node): unknown {
  const base = optional(schema) || schema.type === 'nullable' ? schema.wrapped! : schema;
  const checks = actions(base);
  const has = (type: string) => checks.some((action) => action.type === type);
  const given = checks.find((action) => action.type === 'examples') as { examples?: unknown[] } | undefined;
  if (given?.examples?.length) return given.examples[0];
  switch (base.type) {
    case 'number': {
      const min = checks.find((action) => action.type === 'min_value')?.requirement;
      return Math.max(1, typeof min === 'number' ? min : 1);
    }
    case 'string':
      return has('emoji') ? '👍' : has('email') ? 'alice@example.com' : has('url') ? 'https://example.com/' : 'text';
    case 'boolean':
      return true;
    case 'picklist':
      return (base.options as unknown as string[])[0];
    case 'literal':
      return base.literal;
    case 'union':
      return sample(base.options![0]!);
    case 'object':
      return Object.fromEntries(Object.entries(base.entries!).filter(([, value]) => !optional(value)).map(([key, value]) => [key, sample(value)]));
    case 'array': {
      const min = has('non_empty') ? 1 : checks.find((action) => action.type === 'min_length')?.requirement;
      return Array.from({ length: typeof min === 'number' ? min : 0 }, () => sample(base.item!));
    }
    default:
      return null;
  }
}

/** The example request of an event: its type and every required field. */
export function exampleRequest(type: string, spec: EventSpec): Record<string, unknown> {
  return { type, ...(sample(node(spec.request)) as Record<string, unknown>) };
}

export function renderReference(): string {
  const table = (head: string, rows: string[]) => [head, head.replace(/[^|]+/g, '---'), ...rows].join('\n');
  return [
    '# Parley protocol reference',
    '',
    '<!-- Generated from the schemas in protocol/ by `npm run protocol:docs`; do not edit by hand. -->',
    '',
    'Parley speaks typed JSON events over one WebSocket, `GET /ws`, authenticated by the `login-token`',
    'cookie that `POST /auth/login` sets. Times are integers in Unix epoch seconds. Field names are snake_case.',
    '',
    '## Envelopes',
    '',
    '- Request: `{"type": T, ...fields, "ref"?: R}`. `ref` (a string of at most ' + limits.ref + ' characters, or an integer) is optional and echoed in the reply, so a client can match replies to requests.',
    '- Success reply: `{"type": T, "success": true, "data": ..., "ref"?: R}`.',
    '- Error reply: `{"type": T, "success": false, "error": "<text>", "code": "<code>", "detail"?: "<text>", "ref"?: R}`; only the requester receives it, and the socket stays open. `detail`, when present, says more than the (seed-compatible) `error` text.',
    '- Push (sent unprompted): `{"type": T, "success": true, "data": ..., "seq"?: N}`, with no `ref`. Every state change (messages and their edits, deletions and reactions, conversations, members, receipts, contacts, your own favorites and pins) is appended to the event log and carries its `seq`, an integer that only grows; a socket receives them in `seq` order, and the requester\'s reply carries the same `seq`. `user_status` and `typing` are not logged and have no `seq`.',
    '- After a disconnect, `sync {since: <last seq seen>}` replays what was missed, as the same envelopes: for each conversation, only what happened while you were a member; a deleted message as its tombstone.',
    '- Unknown fields are ignored. Fields are checked in the order listed; the first problem is the answer.',
    `- Any event may also answer ${code(errors.internal.text)} (\`internal\`) when the server fails; the failure is logged and the socket stays open.`,
    `- When the server requires two-factor login of your account (\`TWO_FACTOR_REQUIRED\`) and it has none yet, every event but ${beforeSecondFactor.map((type) => `\`${type}\``).join(', ')} answers ${code(errors.two_factor_required.text)} (\`forbidden\`) until \`confirm_2fa\` has turned it on.`,
    `- With PostgreSQL, any event may answer ${code(errors.unavailable.text)} (\`unavailable\`) while the database cannot be reached (restarting, say): nothing was changed, and the same request can simply be sent again (\`send_message\` with its \`client_id\`).`,
    `- Each socket has a token bucket (\`RATE_LIMIT_EVENTS\` a second, bursts of \`RATE_LIMIT_BURST\`). A frame past it is not handled and is answered ${code(errors.rate_limited.text)} (\`rate_limited\`) with its own \`type\` and \`ref\` (\`type: "root"\` when the frame cannot be read), so a client knows what to send again; a socket that goes on past \`RATE_LIMIT_BURST\` such refusals in a row is closed with 1008. A \`send_message\` with a \`client_id\` refused this way (or by the server-time budget below) holds its conversation on that socket, so that messages keep the order they were sent in: a later \`send_message\` there is answered ${code(errors.send_held.text)} (\`rate_limited\`) until the held one comes again with its \`client_id\` (it goes on whatever its outcome), or for ${limits.sendHoldSeconds} seconds after its last refusal. Send refused messages again in the order you sent them, as the reconnecting client does. Events that cost the server more (searches, listings, \`sync\`) count as several events, as their sections say; past the bucket they answer ${code(errors.costly_rate_limited.text)} (\`rate_limited\`).`,
    `- Each account also has a budget of server time on each node, shared by its sockets (\`RATE_LIMIT_WORK_MS\` a second, bursts of \`RATE_LIMIT_WORK_BURST_MS\`): every event is charged the time it took, and while the account owes time its events answer ${code(errors.work_rate_limited.text)} (\`rate_limited\`). At most ${limits.searchesAtOnce} of an account's searches run at once on a node; one more answers ${code(errors.reads_at_once.text)} (\`rate_limited\`).`,
    '',
    'Frame problems are answered with `type: "root"`:',
    '',
    table('| problem | error | code |', [
      `| text that is not JSON, or JSON that is not an object | ${code(errors.invalid_json.text)} | \`invalid_json\` |`,
      `| a binary frame | ${code(errors.binary_frame.text)} | \`invalid_json\` |`,
      `| no \`type\`, or an unknown one (then \`detail\` names it, e.g. \`unknown type "send_mesage": did you mean "send_message"?\`) | ${code(errors.no_type.text)} | \`unknown_type\` |`,
      `| text holding a lone surrogate (\`"\\ud800"\`), which no database stores as given | ${code(errors.ill_formed_text.text)} | \`bad_request\` |`,
      `| text holding NUL (\`"\\u0000"\`), which PostgreSQL cannot store (refused on both engines alike) | ${code(errors.nul_in_text.text)} | \`bad_request\` |`,
    ]),
    '',
    `A \`ref\` that is neither is answered with ${code(errors.bad_ref.text)} (\`bad_request\`), without a \`ref\`.`,
    '',
    '## Error codes',
    '',
    table('| code | meaning |', Object.entries(errorCodes).map(([name, meaning]) => `| \`${name}\` | ${meaning} |`)),
    '',
    '## Close codes',
    '',
    'The server accepts the upgrade, checks the cookie\'s token, and closes the socket at once with a readable reason',
    'when the cookie is missing or bad (frames sent meanwhile wait, and are answered in order once the token is good).',
    'An upgrade whose `Origin` header names a site that is not allowlisted (`CORS_ALLOW_ORIGIN`) is refused with HTTP 403.',
    'The last column is what a client does next (`afterClose(code)` in protocol/errors.ts; `connect()` of protocol/connect.ts does it);',
    '**signs out** means the session is over: stop reconnecting and show the login page.',
    '',
    table('| code | reason | when | then the client |', [
      `| ${closeCodes.login_required.code} | ${code(closeCodes.login_required.reason)} | no \`login-token\` cookie |`,
      `| ${closeCodes.invalid_token.code} | ${code(closeCodes.invalid_token.reason)} | bad signature, expired, or its session revoked |`,
      `| ${closeCodes.user_gone.code} | ${code(closeCodes.user_gone.reason)} | the token's user no longer exists (the seed backend's wording, kept to the letter for its clients) |`,
      `| ${closeCodes.too_many_sockets.code} | ${code(closeCodes.too_many_sockets.reason)} | the user already has \`MAX_SOCKETS_PER_USER\` sockets open (counted over every node of a cluster) |`,
      `| ${closeCodes.logged_out.code} | ${code(closeCodes.logged_out.reason)} | \`POST /auth/logout\`, \`revoke_session\` or \`logout_all\` ended the socket's session |`,
      `| ${closeCodes.session_expired.code} | ${code(closeCodes.session_expired.reason)} | the socket's session ended: 30 days after its login (checked every second). A socket lives as long as its session, not its login token (LOGIN_TOKEN_SECONDS, an hour by default): refreshing the token over HTTP keeps open sockets as they are |`,
      `| ${closeCodes.password_changed.code} | ${code(closeCodes.password_changed.reason)} | the account's password was changed (change_password, or a reset): every other session ends |`,
      `| ${closeCodes.suspended.code} | ${code(closeCodes.suspended.reason)} | an admin suspended the account (or it was already suspended when the socket opened) |`,
      `| ${closeCodes.refresh_reused.code} | ${code(closeCodes.refresh_reused.reason)} | a refresh token of the session was used a second time: taken as stolen, the session ends |`,
      `| ${closeCodes.flooding.code} | ${code(closeCodes.flooding.reason)} | the socket went on sending after \`RATE_LIMIT_BURST\` refusals in a row |`,
      `| ${closeCodes.early_flood.code} | ${code(closeCodes.early_flood.reason)} | more than 32 frames arrived while the socket's token was being checked |`,
      `| ${closeCodes.too_slow.code} | ${code(closeCodes.too_slow.reason)} | the socket reads too slowly: its unsent data passed \`MAX_BACKPRESSURE\` (at 4 × that, the connection is cut without a close frame) |`,
      `| ${closeCodes.frame_too_large.code} | ${code(closeCodes.frame_too_large.reason)} | a frame over 64 KiB (frames over 256 KiB are cut off without a close frame) |`,
      `| ${closeCodes.shutting_down.code} | ${code(closeCodes.shutting_down.reason)} | the server is stopping |`,
      '| 1006 | (none) | a text frame that is not valid UTF-8: uWebSockets.js ends the connection itself, without a close frame |',
    ].map(withThen)),
    '',
    '## Events',
    '',
    ...Object.entries(events).map(([type, spec]) => eventSection(type, spec)),
    '## Pushes',
    '',
    ...Object.entries(pushes).flatMap(([type, spec]) => [
      `### \`${type}\` (push)`,
      '',
      spec.summary,
      '',
      `\`data\`: \`${describe(node(spec.data)).replaceAll('\\|', '|')}\``,
      '',
      `Sent to: ${spec.to.replace(/\.$/, '')}.`,
      '',
    ]),
  ].join('\n');
}

const then = {
  signed_out: '**signs out**',
  refresh: 'refreshes the login token (`POST /auth/refresh`) and reconnects; signs out if the refresh is refused',
  reconnect: 'reconnects after a backoff',
} as const;

/** A close-code row with what the client does after it, read from the row's code. */
const withThen = (row: string) => `${row} ${then[afterClose(Number(/^\| (\d+) /.exec(row)?.[1]))]} |`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('./README.md', import.meta.url), renderReference());
  console.log('wrote protocol/README.md');
}

// The catalogue of everything that can go wrong on the wire: error codes, error texts, close codes.

/** Machine-readable `code` carried by every error reply, beside the human `error` text. */
export const errorCodes = {
  invalid_json: 'the frame is not a JSON object (or is binary)',
  unknown_type: 'the frame has no `type`, or a type the server does not know',
  bad_request: 'a field is missing, of the wrong type, or outside its limits',
  not_found: 'the thing named does not exist, or the caller may not see it',
  forbidden: 'the caller may see the thing but not do this to it',
  conflict: 'the change clashes with what already exists',
  rate_limited: 'too many requests; slow down and retry',
  unavailable: 'the database cannot be reached right now (PostgreSQL restarting, say): nothing was changed; retry shortly',
  internal: 'the server failed; the failure is logged, the socket stays open',
  upstream: 'a server Parley called for you (a slash command\'s) failed or did not answer in time: nothing was posted',
} as const;

export type ErrorCode = keyof typeof errorCodes;

/**
 * Error texts that are not validation messages. The texts of the seed backend are kept to the
 * letter; `{name}` marks a value filled in when the error is raised.
 */
export const errors = {
  invalid_json: { code: 'invalid_json', text: 'invalid json event' },
  binary_frame: { code: 'invalid_json', text: 'binary frames are not accepted: send each event as a JSON text frame' },
  no_type: { code: 'unknown_type', text: 'no type field found in the event' },
  bad_ref: { code: 'bad_request', text: 'ref must be a string of at most 64 characters or an integer' },
  self_contact: { code: 'bad_request', text: 'cannot add itself as a contact' },
  no_such_user: { code: 'not_found', text: "no such user '{username}' exists" },
  already_contact: { code: 'conflict', text: "'{username}' is already a contact" },
  too_many_contacts: { code: 'bad_request', text: 'at most {limit} contacts per account: remove one first' },
  contacts_full: { code: 'conflict', text: "'{username}' has {limit} contacts, as many as an account may have" },
  invalid_member: { code: 'not_found', text: "'{username}' is not a valid username" },
  not_in_conversation_info: { code: 'not_found', text: '{username} is not part of any conversation with {id} id' },
  not_in_conversation: { code: 'not_found', text: '{username} not part of conversation with {id} id' },
  client_id_used: { code: 'conflict', text: "client_id '{client_id}' was already used for another message" },
  empty_message: { code: 'bad_request', text: 'message content should be non empty string' },
  content_too_long: { code: 'bad_request', text: 'message content may be at most {limit} characters' },
  no_such_file: { code: 'not_found', text: 'no file {id} of yours: upload it first (POST /files; a webhook: POST <its url>/files)' },
  not_an_image: { code: 'bad_request', text: 'file {id} is not an image: a picture must be a JPEG, PNG, WebP, GIF or AVIF' },
  no_such_reply: { code: 'not_found', text: 'No such {reply_id} message id found in {conversation_id} conversation_id' },
  no_such_thread: { code: 'not_found', text: 'No such {thread_id} message id found in {conversation_id} conversation_id to reply in the thread of' },
  also_without_thread: { code: 'bad_request', text: 'also_to_conversation is for a thread reply: give thread_id too' },
  direct_needs_one: { code: 'bad_request', text: 'a direct conversation is with exactly one other person: list one username in members' },
  direct_fixed: { code: 'bad_request', text: 'a direct conversation always has exactly its two people: cannot {action}' },
  nothing_to_update: { code: 'bad_request', text: 'nothing to update: give name, description, avatar or several' },
  admins_only: { code: 'forbidden', text: 'only the owner or an admin of conversation {id} can {action}' },
  owner_only: { code: 'forbidden', text: 'only the owner of conversation {id} can {action}' },
  outranked: { code: 'forbidden', text: "'{username}' is the owner or an admin of conversation {id}: only the owner can {action} them" },
  not_yourself: { code: 'bad_request', text: 'you cannot {action} yourself{hint}' },
  not_member: { code: 'not_found', text: "'{username}' is not a member of conversation {id}" },
  already_members: { code: 'conflict', text: 'everyone listed is already a member of conversation {id}' },
  too_many_members: { code: 'bad_request', text: 'a conversation may have at most {limit} members' },
  banned: { code: 'forbidden', text: "'{username}' is banned from conversation {id}" },
  already_banned: { code: 'conflict', text: "'{username}' is already banned from conversation {id}" },
  not_banned: { code: 'not_found', text: "'{username}' is not banned from conversation {id}" },
  too_many_bans: { code: 'bad_request', text: 'at most {limit} people may be banned from one conversation: unban one first' },
  no_such_channel: { code: 'not_found', text: 'no channel with id {id}' },
  already_in_channel: { code: 'conflict', text: 'you are already a member of channel {id}' },
  no_such_invitation: { code: 'not_found', text: 'no pending invitation of yours to conversation {id}' },
  before_and_after: { code: 'bad_request', text: 'give before or after, not both' },
  bad_cursor: { code: 'bad_request', text: 'after must be the next of an earlier page of the same list' },
  no_such_message: { code: 'not_found', text: 'no message with id {id}' },
  sender_only: { code: 'forbidden', text: 'only the sender of message {id} can edit it' },
  cannot_delete: { code: 'forbidden', text: 'only the sender of message {id}, or an owner or admin, can delete it' },
  message_deleted: { code: 'conflict', text: 'message {id} was deleted' },
  already_reacted: { code: 'conflict', text: 'you already reacted to message {id} with {emoji}' },
  not_reacted: { code: 'not_found', text: 'you have not reacted to message {id} with {emoji}' },
  too_many_reactions: { code: 'bad_request', text: 'at most {limit} different reactions per person on one message' },
  bad_search: { code: 'bad_request', text: 'search query: {problem}' },
  typing_too_often: { code: 'rate_limited', text: 'typing: at most {limit} events per conversation every {seconds} seconds' },
  too_many_conversations: { code: 'rate_limited', text: 'at most {limit} new conversations an hour per account (CONVERSATIONS_PER_HOUR): retry in {minutes} min' },
  too_many_channels: { code: 'rate_limited', text: 'at most {limit} new channels an hour per account (CHANNELS_PER_HOUR): retry in {minutes} min' },
  too_many_adds: { code: 'rate_limited', text: 'at most {limit} people added or invited to conversations an hour per account (ADDS_PER_HOUR): {count} more is too many now, retry in {minutes} min' },
  adds_over_hourly: { code: 'bad_request', text: 'at most {limit} people may be added or invited to conversations in an hour (ADDS_PER_HOUR): {count} at once is more than that' },
  too_many_contact_adds: { code: 'rate_limited', text: 'at most {limit} contacts added an hour per account (CONTACTS_PER_HOUR): retry in {minutes} min' },
  nothing_to_update_profile: { code: 'bad_request', text: 'nothing to update: give fullname, bio, email, avatar, notifications, notify_reactions or who_may_add' },
  not_contact: { code: 'not_found', text: "'{username}' is not a contact" },
  self_block: { code: 'bad_request', text: 'cannot block yourself' },
  already_blocked: { code: 'conflict', text: "'{username}' is already blocked" },
  too_many_blocks: { code: 'bad_request', text: 'at most {limit} blocked people per account: unblock one first' },
  not_blocked: { code: 'not_found', text: "'{username}' is not blocked" },
  you_blocked: { code: 'forbidden', text: "you blocked '{username}': unblock them first" },
  members_required: { code: 'bad_request', text: 'members value expected a list' },
  too_many_code_mails: { code: 'rate_limited', text: 'too many verification mails to you or to that address this hour: retry in {minutes} min' },
  bad_code: { code: 'bad_request', text: 'that code is wrong, used up or expired: ask for a new one' },
  no_such_session: { code: 'not_found', text: 'no live session {id} of yours' },
  wrong_password: { code: 'forbidden', text: 'the password is wrong' },
  password_throttled: { code: 'rate_limited', text: 'too many wrong passwords: retry in {wait}' },
  passwords_busy: { code: 'rate_limited', text: 'the server is checking too many passwords at once: retry in a moment' },
  bad_new_password: { code: 'bad_request', text: '{problem}' },
  second_factor_required: { code: 'forbidden', text: 'second factor required' },
  invalid_code: { code: 'forbidden', text: 'invalid code' },
  code_throttled: { code: 'rate_limited', text: 'too many wrong codes: retry in {wait}' },
  two_factor_on: { code: 'conflict', text: 'two-factor login is already on: turn it off with disable_2fa first' },
  two_factor_off: { code: 'conflict', text: 'two-factor login is not on for your account' },
  no_pending_2fa: { code: 'conflict', text: 'no two-factor set-up to confirm: send enable_2fa first' },
  two_factor_kept: { code: 'forbidden', text: 'this server requires two-factor login for your account: it cannot be turned off (an admin can reset it with admin_reset_2fa)' },
  two_factor_required: { code: 'forbidden', text: 'this server requires two-factor login for your account: set it up with enable_2fa and confirm_2fa first' },
  no_two_factor_of: { code: 'not_found', text: "'{username}' has no two-factor login" },
  no_sso_link_of: { code: 'not_found', text: "'{username}' has no single sign-on link{to}" },
  admins_only_event: { code: 'forbidden', text: 'only admins can use {type}' },
  no_such_conversation: { code: 'not_found', text: 'no conversation {id}' },
  export_under_way: { code: 'conflict', text: 'an export of yours is being built: wait for export_ready' },
  subscription_needed: { code: 'bad_request', text: 'kind webpush needs subscription: what PushManager.subscribe() gives, with endpoint, keys.p256dh and keys.auth' },
  token_needed: { code: 'bad_request', text: 'kind webhook needs token: the native app\'s push token' },
  not_for_kind: { code: 'bad_request', text: '{field} does not go with kind {kind}' },
  bad_subscription: { code: 'bad_request', text: 'subscription: {problem}' },
  webhook_off: { code: 'forbidden', text: 'this server has no webhook for native apps (PUSH_WEBHOOK_URL is not set): register kind webpush' },
  too_many_devices: { code: 'bad_request', text: 'at most {limit} devices per account: unregister one first' },
  no_such_device: { code: 'not_found', text: 'no device {id} of yours' },
  until_with_default: { code: 'bad_request', text: 'until goes with all, mentions or none, not with default' },
  until_past: { code: 'bad_request', text: 'until must be in the future (Unix seconds), or null for ever' },
  notice_audience: { code: 'bad_request', text: 'give usernames or all: true (one of them)' },
  too_many_notices: { code: 'rate_limited', text: 'at most {limit} notices an hour: retry in {minutes} min' },
  not_for_bots: { code: 'forbidden', text: 'a bot cannot {action}' },
  bad_username: { code: 'bad_request', text: '{problem}' },
  username_taken: { code: 'conflict', text: 'username already exists' },
  too_many_bots: { code: 'bad_request', text: 'at most {limit} bots per account: delete one first' },
  no_such_bot: { code: 'not_found', text: "no bot '{username}' of yours" },
  bot_not_admin: { code: 'bad_request', text: "'{username}' is not a person: only people can be admins" },
  too_many_webhooks: { code: 'bad_request', text: 'at most {limit} webhooks per conversation: delete one first' },
  no_such_webhook: { code: 'not_found', text: 'no webhook {id} that you may manage' },
  bad_command_url: { code: 'bad_request', text: '{problem}' },
  command_taken: { code: 'conflict', text: 'conversation {id} already has a command /{command}' },
  command_taken_server: { code: 'conflict', text: 'the server already has a server-wide command /{command}' },
  too_many_commands: { code: 'bad_request', text: 'at most {limit} slash commands per conversation: delete one first' },
  too_many_server_commands: { code: 'bad_request', text: 'at most {limit} server-wide slash commands: delete one first' },
  no_such_command_id: { code: 'not_found', text: 'no slash command {id} that you may manage' },
  not_a_command: { code: 'bad_request', text: 'text must start with /command' },
  no_such_command: { code: 'not_found', text: 'conversation {id} has no command /{command}' },
  command_failed: { code: 'upstream', text: '/{command} failed: {problem} ({tries})' },
  command_alone: { code: 'bad_request', text: '/{command} is a slash command: it runs from a message with no attachments, reply_id or thread_id' },
  rate_limited: { code: 'rate_limited', text: 'rate limit: at most {rate} events a second (bursts of {burst}); slow down' },
  costly_rate_limited: { code: 'rate_limited', text: 'rate limit: {type} counts as {cost} events, at most {rate} events a second (bursts of {burst}); slow down' },
  work_rate_limited: { code: 'rate_limited', text: 'rate limit: your events took more of the server\'s time than {rate} ms a second (bursts of {burst} ms) allows: retry in {wait} ms' },
  send_held: { code: 'rate_limited', text: 'rate limit: an earlier message of this socket to conversation {id} was refused: send it again first (client_id {client_id}), then this one' },
  reads_at_once: { code: 'rate_limited', text: 'rate limit: at most {limit} of your searches may run at once: wait for an answer before sending more' },
  ill_formed_text: { code: 'bad_request', text: 'text must be well-formed Unicode: a lone surrogate (\\u{example}) has no pair' },
  nul_in_text: { code: 'bad_request', text: 'text must not contain the NUL character (\\u0000)' },
  unavailable: { code: 'unavailable', text: 'the database is unavailable right now: nothing was changed, retry in a moment' },
  internal: { code: 'internal', text: 'internal server error' },
} as const satisfies Record<string, { code: ErrorCode; text: string }>;

export type ErrorName = keyof typeof errors;

type Placeholders<T extends string> = T extends `${string}{${infer Name}}${infer Rest}`
  ? Name | Placeholders<Rest>
  : never;

/** The values an error's text needs, derived from its `{name}` placeholders. */
export type ErrorParams<N extends ErrorName> = { [K in Placeholders<(typeof errors)[N]['text']>]: string | number };

export function errorText<N extends ErrorName>(name: N, params: ErrorParams<N>): string {
  const values = params as Record<string, string | number>;
  return errors[name].text.replace(/\{(\w+)\}/g, (_, key: string) => String(values[key]));
}

/**
 * Close codes the server uses, and what a client does after each (`then`): `signed_out` — the
 * session is over, show the login page; `refresh` — refresh the login token (`POST /auth/refresh`),
 * then reconnect, signed out if the refresh is refused; `reconnect` — reconnect after a backoff
 * (also the rule for any code not listed, such as 1006 for a connection cut without a close frame).
 * Authentication problems are reported by accepting the upgrade and closing at once, because a
 * browser can read a close reason but not the status of a failed upgrade.
 */
export const closeCodes = {
  login_required: { code: 4001, reason: 'login-token required', then: 'refresh' },
  invalid_token: { code: 4002, reason: 'invalid login-token', then: 'refresh' },
  user_gone: { code: 4003, reason: "'{username}' doesn't exists", then: 'signed_out' },
  too_many_sockets: { code: 4004, reason: 'too many connections for this user (limit {limit})', then: 'reconnect' },
  logged_out: { code: 4005, reason: 'session logged out', then: 'signed_out' },
  session_expired: { code: 4006, reason: 'session expired: log in again', then: 'signed_out' },
  password_changed: { code: 4008, reason: 'password changed: log in again', then: 'signed_out' },
  suspended: { code: 4009, reason: 'account suspended', then: 'signed_out' },
  refresh_reused: { code: 4010, reason: 'session revoked: its refresh token was used twice', then: 'signed_out' },
  flooding: { code: 1008, reason: 'flooding: too many events over the rate limit', then: 'reconnect' },
  early_flood: { code: 1008, reason: 'too many frames before the login token was checked', then: 'reconnect' },
  too_slow: { code: 4007, reason: 'too slow: more than {limit} bytes waiting to be read; reconnect', then: 'reconnect' },
  frame_too_large: { code: 1009, reason: 'frame too large: the limit is {limit} bytes', then: 'reconnect' },
  shutting_down: { code: 1001, reason: 'server shutting down', then: 'reconnect' },
} as const satisfies Record<string, { code: number; reason: string; then: CloseThen }>;

export type CloseName = keyof typeof closeCodes;
/** What a client does after a close: see `closeCodes`. */
export type CloseThen = 'signed_out' | 'refresh' | 'reconnect';

/** What a client does after a close with this code; `reconnect` for codes the server does not use. */
export function afterClose(code: number): CloseThen {
  for (const close of Object.values(closeCodes)) if (close.code === code) return close.then;
  return 'reconnect';
}

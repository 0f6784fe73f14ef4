// Events about your account's sessions and password, deleting it, and the administrators' events.
import * as v from 'valibot';
import { event, fields, limits, seconds, pageLimit } from '../spec.ts';
import { avatarUrl } from './files.ts';
import { secondFactorCode } from './two-factor.ts';

const password = (field: string) => v.pipe(v.string(`${field} must be a string`), v.nonEmpty(`${field} must not be empty`));
const code = v.pipe(v.optional(secondFactorCode), v.description('required when two-factor login is on: a code from the authenticator app, or a recovery code'));

export const Session = v.object({
  id: v.string(),
  created_at: seconds,
  last_seen_at: v.pipe(v.nullable(seconds), v.description('when a socket last opened or the session last refreshed')),
  user_agent: v.string(),
  ip: v.string(),
  current: v.pipe(v.boolean(), v.description('the session this socket belongs to')),
});

export const get_sessions = event({
  summary: 'Lists your live login sessions (devices), newest first.',
  cost: 2,
  request: fields({}),
  reply: v.array(Session),
  errors: [],
});

export const revoke_session = event({
  summary: 'Ends one of your sessions: its sockets close at once (4005) and its tokens stop working.',
  request: fields({ session_id: v.string('expected session_id as string') }),
  reply: v.object({ session_id: v.string() }),
  errors: ['no_such_session'],
});

export const logout_all = event({
  summary: 'Ends every one of your sessions, this one included: every socket closes (4005).',
  request: fields({}),
  reply: v.object({ sessions_ended: v.number() }),
  errors: [],
});

export const change_password = event({
  summary: 'Changes your password; every other session ends (their sockets close with 4008). Answered once the password hash is done, so possibly after replies to later events.',
  request: fields({ old_password: password('old_password'), new_password: password('new_password'), code }),
  reply: v.object({ sessions_ended: v.pipe(v.number(), v.description('other sessions ended')) }),
  errors: ['not_for_bots', 'password_throttled', 'passwords_busy', 'wrong_password', 'second_factor_required', 'code_throttled', 'invalid_code', 'bad_new_password'],
});

export const delete_account = event({
  summary: 'Deletes your account: sessions, contacts and memberships go (an owner hands over as when leaving); your messages stay, from "deleted user"; your username is held for USERNAME_HOLD_DAYS before anyone can take it. Answered once the password check is done, so possibly after replies to later events.',
  request: fields({ password: password('password'), code }),
  reply: v.object({ username: v.string() }),
  errors: ['not_for_bots', 'password_throttled', 'passwords_busy', 'wrong_password', 'second_factor_required', 'code_throttled', 'invalid_code'],
  fanout: 'Each conversation you were in is pushed `leave_conversation`, each contact `contact_removed`; then every socket of yours closes (4003).',
});

export const AdminUser = v.object({
  username: v.string(),
  fullname: v.string(),
  email: v.nullable(v.string()),
  email_verified: v.boolean(),
  role: v.picklist(['user', 'admin']),
  kind: v.pipe(v.picklist(['person', 'bot', 'webhook']), v.description('a person; a bot (`get_bots` names its owner); or a webhook\'s account')),
  status: v.picklist(['active', 'suspended']),
  is_online: v.boolean(),
  created_at: seconds,
  last_online: seconds,
  avatar_url: avatarUrl,
});

export const admin_list_users = event({
  summary: `Lists accounts (admins only), in username order, a page at a time. One request looks at ${limits.usersExamined.toLocaleString('en')} accounts at most: when few of them match \`query\` or \`status\`, a page may be short (even empty) with a \`next\` to go on from; \`next\` is null at the end.`,
  cost: 2,
  request: fields({
    query: v.pipe(v.nullish(v.pipe(v.string('query must be a string'), v.maxLength(limits.name, `query may be at most ${limits.name} characters`))), v.description('optional; username or full name prefix')),
    status: v.pipe(v.nullish(v.picklist(['active', 'suspended'], 'status must be one of active, suspended')), v.description('optional; only these')),
    after: v.pipe(v.nullish(v.string('after must be a string')), v.description('optional; a username: only those after it in username order (the `next` of the previous page)')),
    before: v.pipe(v.optional(v.undefined('before is now called after: users are listed in username order, after the given name')), v.description('not accepted: renamed `after`')),
    limit: pageLimit(limits.usersPage.max, limits.usersPage.default),
  }),
  reply: v.object({ users: v.array(AdminUser), next: v.nullable(v.string()) }),
  errors: ['admins_only_event'],
});

export const admin_set_user_status = event({
  summary: 'Suspends an account (it cannot log in or refresh, and its sockets close with 4009) or makes it active again (admins only). A bot\'s token ends with its suspension: its owner gives it a new one (`rotate_bot_token`) once it is active again. A suspended person\'s bots are cut off too: their sockets close with 4009 and their tokens open nothing while the owner is suspended, and once active again the owner gives them new tokens.',
  request: fields({
    username: v.string('expected username as string'),
    status: v.picklist(['active', 'suspended'], 'status must be one of active, suspended'),
  }),
  reply: v.object({ username: v.string(), status: v.picklist(['active', 'suspended']) }),
  errors: ['admins_only_event', 'no_such_user', 'not_yourself'],
});

export const admin_set_role = event({
  summary: 'Makes an account an admin or a plain user (admins only).',
  request: fields({
    username: v.string('expected username as string'),
    role: v.picklist(['user', 'admin'], 'role must be one of user, admin'),
  }),
  reply: v.object({ username: v.string(), role: v.picklist(['user', 'admin']) }),
  errors: ['admins_only_event', 'no_such_user', 'not_yourself', 'bot_not_admin'],
});

export const admin_stats = event({
  summary: 'Numbers about the whole server (admins only).',
  request: fields({}),
  reply: v.object({
    users: v.object({ total: v.number(), active_24h: v.number(), active_7d: v.number(), online: v.number(), suspended: v.number() }),
    messages_per_day: v.pipe(v.array(v.object({ day: v.string(), count: v.number() })), v.description('the last 30 days (UTC), oldest first, days without messages included')),
    conversations: v.object({ group: v.number(), direct: v.number(), channel: v.number() }),
  }),
  errors: ['admins_only_event'],
});

export const admin_reset_2fa = event({
  summary: 'Turns off the two-factor login of an account whose owner lost their authenticator app and recovery codes (admins only): they log in with their password alone and may set it up again. Every session of theirs ends (sockets close with 4005).',
  request: fields({ username: v.string('expected username as string') }),
  reply: v.object({ username: v.string(), two_factor: v.literal(false) }),
  errors: ['admins_only_event', 'no_such_user', 'not_yourself', 'no_two_factor_of'],
});

export const admin_unlink_sso = event({
  summary: 'Removes an account\'s single sign-on links (admins only): to every provider, or to `provider` alone. The sessions those providers started end (sockets close with 4005); the provider\'s account no longer opens this one, and is never linked to it again by email (its next login makes an account of its own). A password the account had works again where PASSWORD_LOGIN allows; an account made by single sign-on has none, and its owner sets one with /auth/forgot-password.',
  request: fields({
    username: v.string('expected username as string'),
    provider: v.pipe(v.nullish(v.string('expected provider as string')), v.description('optional; the name of one provider in OIDC_PROVIDERS. Default: every provider')),
  }),
  reply: v.object({
    username: v.string(),
    providers: v.pipe(v.array(v.string()), v.description('the providers whose links were removed')),
    sessions_ended: v.pipe(v.number(), v.description('the sessions those providers had started that were ended')),
  }),
  errors: ['admins_only_event', 'no_such_user', 'not_yourself', 'no_sso_link_of'],
});

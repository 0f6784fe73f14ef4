// Events about people: your own account and profile, other people's profiles, the directory, your status.
import * as v from 'valibot';
import { event, seconds, fields, limits, pageLimit, readLater } from '../spec.ts';
import { Level, levels } from './notifications.ts';
import { avatar, avatarUrl } from './files.ts';
import { WhoMayAdd, whoMayAdd } from './invitations.ts';
import { beforeSecondFactor } from './two-factor.ts';

export const statuses = ['online', 'away', 'busy', 'invisible'] as const;

export const User = v.object({
  username: v.string(),
  fullname: v.string(),
  is_online: v.pipe(v.boolean(), v.description('true while the user has a socket open, is not invisible, and neither of you blocked the other')),
  last_online: v.pipe(seconds, v.description('when the user last came online or went offline (Unix seconds)')),
  created_at: seconds,
  bio: v.string(),
  status: v.pipe(
    v.picklist([...statuses, 'offline']),
    v.description('what they chose while online (`invisible` only on your own account); `offline` when `is_online` is false'),
  ),
  status_text: v.string(),
  avatar_url: avatarUrl,
});

export const Self = v.object({
  ...User.entries,
  email: v.pipe(v.nullable(v.string()), v.description('yours only; null when not set')),
  email_verified: v.boolean(),
  role: v.pipe(v.picklist(['user', 'admin']), v.description('`admin` may use the admin_ events')),
  notifications: v.pipe(Level, v.description('what notifies your devices in conversations you set no level for (`set_notifications`)')),
  notify_reactions: v.pipe(v.boolean(), v.description('whether a reaction to your message notifies you')),
  who_may_add: WhoMayAdd,
  two_factor: v.pipe(v.boolean(), v.description('whether your two-factor login is on (`confirm_2fa`)')),
  two_factor_required: v.pipe(v.boolean(), v.description(`whether the server requires two-factor login of you (\`TWO_FACTOR_REQUIRED\`): while it is not on, only ${beforeSecondFactor.map((type) => `\`${type}\``).join(', ')} are answered`)),
});

const username = v.string('expected username as string');

export const self = event({
  summary: 'Returns the caller\'s own account.',
  request: fields({}),
  reply: Self,
  errors: ['no_such_user'],
});

export const update_profile = event({
  summary: 'Changes your full name, bio, email or picture, what notifies your devices, or who may add you to conversations. A new email is unverified: a code is mailed to it for `verify_email`.',
  request: fields({
    fullname: v.pipe(
      v.nullish(v.pipe(
        v.string('fullname must be a string'),
        v.check((text) => text.trim() !== '', 'fullname should not be blank'),
        v.maxLength(limits.name, `fullname must be at most ${limits.name} characters long`),
      )),
      v.description('optional'),
    ),
    bio: v.pipe(v.nullish(v.pipe(v.string('bio must be a string'), v.maxLength(limits.bio, `bio may be at most ${limits.bio} characters`))), v.description('optional; empty clears it')),
    email: v.pipe(
      v.nullish(v.pipe(v.string('email must be an email address'), v.maxLength(limits.email, 'email must be an email address'), v.email('email must be an email address'))),
      v.description('optional'),
    ),
    notifications: v.pipe(
      v.nullish(v.picklist(levels, 'notifications must be one of all, mentions, none')),
      v.description('optional; your default level: `all` messages notify your devices, only those that @mention you, or `none`'),
    ),
    notify_reactions: v.pipe(v.nullish(v.boolean('notify_reactions must be true or false')), v.description('optional; whether a reaction to your message notifies you')),
    who_may_add: v.pipe(
      v.nullish(v.picklist(whoMayAdd, 'who_may_add must be one of everyone, contacts, nobody')),
      v.description('optional; who may put you in a conversation without asking (`everyone`, `contacts`, `nobody`); anyone else invites you. Invitations already sent stay'),
    ),
    avatar: avatar('your'),
  }),
  reply: Self,
  errors: ['nothing_to_update_profile', 'no_such_file', 'not_an_image', 'too_many_code_mails'],
  fanout: 'Your contacts and your other sockets are pushed `user_updated` with your public profile.',
});

export const get_user = event({
  summary: 'Returns someone\'s public profile.',
  request: fields({ username }),
  reply: User,
  errors: ['no_such_user'],
});

export const search_users = event({
  summary: `Finds people whose username or full name starts with \`query\` (case ignored), in username order, a page at a time; people who blocked you are left out. One request looks at about ${limits.usersExamined.toLocaleString('en')} people at most: when more names than that start with the query, a page may be short (even empty) with a \`next\` to go on from. ${readLater}`,
  cost: 2,
  request: fields({
    query: v.pipe(
      v.string('query must be a string'),
      v.nonEmpty('query must not be empty'),
      v.maxLength(limits.name, `query may be at most ${limits.name} characters`),
    ),
    after: v.pipe(v.nullish(v.string('after must be a string')), v.description('optional; a username: only those after it in username order (the `next` of the previous page)')),
    before: v.pipe(v.optional(v.undefined('before is now called after: users are listed in username order, after the given name')), v.description('not accepted: renamed `after`')),
    limit: pageLimit(limits.usersPage.max, limits.usersPage.default),
  }),
  reply: v.object({
    users: v.array(User),
    next: v.pipe(v.nullable(v.string()), v.description('pass as `after` for the next page (a short page may have one); null on the last page')),
  }),
  errors: [],
});

export const set_status = event({
  summary: 'Sets your status: `online`, `away`, `busy`, or `invisible` (you look offline to everyone else), with an optional text.',
  request: fields({
    status: v.picklist(statuses, 'status must be one of online, away, busy, invisible'),
    text: v.pipe(
      v.nullish(v.pipe(v.string('text must be a string'), v.maxLength(limits.statusText, `text may be at most ${limits.statusText} characters`))),
      v.description('optional; default empty'),
    ),
  }),
  reply: v.object({ status: v.picklist(statuses), status_text: v.string() }),
  errors: [],
  fanout: 'Your contacts are pushed `user_status` with what they now see of you; your other sockets get the same reply as a `set_status` push.',
});

export const verify_email = event({
  summary: 'Confirms your email address with the 6-digit code mailed to it by update_profile (valid 10 minutes, 5 tries; at most 10 wrong codes an hour however many codes were mailed).',
  request: fields({ code: v.pipe(v.string('code must be the 6 digits from the mail'), v.regex(/^\d{6}$/, 'code must be the 6 digits from the mail'), v.examples(['123456'])) }),
  reply: Self,
  errors: ['bad_code'],
});

// Events about bots: accounts a program holds by an API token, made and managed by their owner (or an admin).
import * as v from 'valibot';
import { event, fields, limits, seconds } from '../spec.ts';
import { avatarUrl } from './files.ts';

const username = v.string('expected username as string');

export const Bot = v.object({
  username: v.string(),
  fullname: v.string(),
  avatar_url: avatarUrl,
  owner: v.pipe(v.string(), v.description('the username of the person who made it (and may rotate its token or delete it)')),
  status: v.pipe(v.picklist(['active', 'suspended']), v.description('`suspended` by an administrator: its token opens nothing')),
  created_at: seconds,
});

const withToken = v.object({
  username: v.string(),
  token: v.pipe(v.string(), v.description('the API token, shown this once (only its hash is kept): `Authorization: Bearer <token>` on `GET /ws` and on `POST /files`, `GET /files/{id}`')),
});

export const create_bot = event({
  summary: `Makes a bot you own: an account with no password that a program opens sockets for with its API token. It joins conversations only when added (its owner may add it; anyone else invites it, and the bot accepts or declines), and may not make conversations, join channels, make bots or webhooks. At most ${limits.botsPerOwner} bots per owner.`,
  request: fields({
    username: v.pipe(username, v.description(`${limits.username.min} to ${limits.username.max} letters, digits, '_', '.' or '-', as for people`)),
    fullname: v.pipe(
      v.string('fullname must be a string'),
      v.check((text) => text.trim() !== '', 'fullname should not be blank'),
      v.maxLength(limits.name, `fullname must be at most ${limits.name} characters long`),
      v.description('its display name'),
    ),
  }),
  reply: withToken,
  errors: ['not_for_bots', 'bad_username', 'too_many_bots', 'username_taken'],
});

export const get_bots = event({
  summary: 'Lists your bots; an admin with `all: true` lists every bot on the server.',
  request: fields({ all: v.pipe(v.nullish(v.boolean('all must be a boolean')), v.description('optional; admins only: every owner\'s bots')) }),
  reply: v.array(Bot),
  errors: ['not_for_bots', 'admins_only_event'],
});

export const rotate_bot_token = event({
  summary: 'Gives one of your bots (or, for an admin, any bot) a new API token: the old one stops at once and the bot\'s sockets close (4005).',
  request: fields({ username }),
  reply: withToken,
  errors: ['not_for_bots', 'no_such_bot'],
});

export const delete_bot = event({
  summary: 'Deletes one of your bots (or, for an admin, any bot): it leaves its conversations as a deleted account does (its messages stay, from "deleted user"), its sockets close (4003) and its username is held as a person\'s is.',
  request: fields({ username }),
  reply: v.object({ username: v.string() }),
  errors: ['not_for_bots', 'no_such_bot'],
  fanout: 'Each conversation the bot was in is pushed `leave_conversation`, each contact `contact_removed`.',
});

// Events about channels: public conversations anyone can find and join, and who is kept out of them.
import * as v from 'valibot';
import { add_members } from './members.ts';
import { avatarUrl } from './files.ts';
import { event, id, integer, limits, fields, seconds, conversationId, conversationGuard as guard, pageAfter, pageLimit, pageNext, cursor, readLater } from '../spec.ts';

const username = v.string('expected username as string');

export const Channel = v.object({
  id,
  name: v.string(),
  description: v.string(),
  member_count: v.number(),
  created_at: seconds,
  joined: v.pipe(v.boolean(), v.description('whether you are a member')),
  avatar_url: avatarUrl,
});

export const list_channels = event({
  summary: `Finds channels by name or description, newest first, a page at a time. One request looks at no more than ${limits.channelsExamined.toLocaleString('en')} channels: a query that matches few may answer a short page (even an empty one) with a \`next\` to go on from. ${readLater}`,
  request: fields({
    query: v.pipe(
      v.nullish(v.pipe(v.string('query must be a string'), v.maxLength(limits.searchQuery, `query may be at most ${limits.searchQuery} characters`))),
      v.description('optional; text the name or description contains (case ignored); absent: every channel'),
    ),
    before: cursor('before', 'a channel id: only older channels (the `next` of the previous page)'),
    limit: pageLimit(limits.channelsPage.max, limits.channelsPage.default),
  }),
  reply: v.object({
    channels: v.array(Channel),
    has_more: v.pipe(v.boolean(), v.description('more may be found: ask again with `before` = `next`')),
    next: v.pipe(v.nullable(v.number()), v.description('the `before` of the next page, or null when every channel has been looked at')),
  }),
  errors: [],
});

export const join_channel = event({
  summary: 'Joins a channel.',
  request: fields({ conversation_id: integer('expected conversation_id as integer') }),
  reply: add_members.reply,
  errors: ['not_for_bots', 'no_such_channel', 'already_in_channel', 'banned', 'too_many_members'],
  fanout: 'The same success event is pushed to every socket of every member, the new one included.',
});

export const ban_member = event({
  summary: `Bans someone from a group or channel (owners and admins): removes them if they are a member, and keeps them from joining or being added. At most ${limits.bansPerConversation.toLocaleString('en')} people may be banned from one conversation.`,
  request: fields({ conversation_id: conversationId, username }),
  reply: v.object({ conversation_id: id, username: v.string(), by: v.string() }),
  guard,
  errors: ['direct_fixed', 'admins_only', 'not_yourself', 'no_such_user', 'outranked', 'already_banned', 'too_many_bans'],
  fanout: 'The same success event is pushed to every socket of every member, the banned one included when they were a member.',
});

export const unban_member = event({
  summary: 'Lets a banned person join or be added again (owners and admins).',
  request: fields({ conversation_id: conversationId, username }),
  reply: v.object({ conversation_id: id, username: v.string(), by: v.string() }),
  guard,
  errors: ['admins_only', 'not_banned'],
  fanout: 'The same success event is pushed to every socket of the conversation\'s owner and admins.',
});

export const get_banned = event({
  summary: `Lists who is banned from a conversation (owners and admins), longest banned first, a page at a time. ${readLater}`,
  cost: 2,
  request: fields({
    conversation_id: conversationId,
    after: pageAfter('`conversation_id`'),
    limit: pageLimit(limits.bannedPage.max, limits.bannedPage.default),
  }),
  reply: v.object({
    banned: v.array(v.object({ username: v.string(), fullname: v.string(), banned_by: v.nullable(v.string()), banned_at: seconds })),
    next: pageNext,
  }),
  guard,
  errors: ['admins_only', 'bad_cursor'],
});

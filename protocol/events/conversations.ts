// Events about conversations: creating, listing, changing and deleting them, and each member's own settings.
import * as v from 'valibot';
import { event, id, integer, limits, fields, seconds, conversationId, conversationGuard as guard, pageAfter, pageLimit, pageNext, readLater } from '../spec.ts';
import { Message } from './messages.ts';
import { NotificationSetting } from './notifications.ts';
import { avatar, avatarUrl } from './files.ts';

export const kinds = ['group', 'direct', 'channel'] as const;
export const roles = ['owner', 'admin', 'member'] as const;
export const Role = v.picklist(roles);

export const Conversation = v.object({
  id,
  name: v.string(),
  members: v.pipe(v.array(v.string()), v.description('usernames, the creator first')),
  kind: v.picklist(kinds),
  description: v.string(),
  created_at: seconds,
  avatar_url: avatarUrl,
});


/** Who was invited rather than added (their `who_may_add`): told only to members, never which setting it was. */
export const invited = v.pipe(
  v.optional(v.array(v.string())),
  v.description('the usernames invited instead of added, because their `who_may_add` does not let you add them: they join when they accept. Absent when there are none'),
);

const name = v.pipe(
  v.string('name value expected as a non zero string'),
  v.nonEmpty('name value expected as a non zero string'),
  v.maxLength(limits.name, `name may be at most ${limits.name} characters`),
);
const description = v.pipe(
  v.string('description must be a string'),
  v.maxLength(limits.description, `description may be at most ${limits.description} characters`),
);

export const create_conversation = event({
  summary: 'Creates a conversation of the caller and the listed users (no contact relation needed; those whose `who_may_add` does not let you add them are invited instead). A direct conversation with someone you already have one with returns that one.',
  request: fields({
    name: v.pipe(v.nullish(name), v.description("optional; default: the members' usernames, comma-separated")),
    members: v.pipe(
      v.nullish(v.pipe(
        v.array(v.string('members should be a list of string'), 'members value expected a list'),
        v.maxLength(limits.members, `members may list at most ${limits.members} usernames`),
      )),
      v.description('usernames; the caller is added if absent; duplicates are ignored; may be empty (not for `direct`). Required without `kind` (as in the seed) and for `direct`; optional when `kind` is `group` or `channel`'),
    ),
    kind: v.pipe(
      v.nullish(v.picklist(kinds, 'kind must be one of group, direct, channel')),
      v.description('optional; `group` (default: invite only), `direct` (you and exactly one other person), `channel` (public: anyone can find and join it)'),
    ),
    description: v.pipe(v.nullish(description), v.description('optional; default empty')),
  }),
  reply: v.object({ ...Conversation.entries, invited }),
  errors: ['members_required', 'not_for_bots', 'invalid_member', 'you_blocked', 'too_many_members', 'direct_needs_one', 'too_many_conversations', 'too_many_channels', 'adds_over_hourly', 'too_many_adds'],
  fanout: 'The same success event is pushed to every socket of every member, the creator\'s other sockets included (not when an existing direct conversation is returned).',
});

export const ConversationItem = v.object({
  id,
  name: v.string(),
  kind: v.picklist(kinds),
  description: v.string(),
  role: v.pipe(Role, v.description('yours')),
  member_count: v.number(),
  unread_count: v.pipe(v.number(), v.description(`others' messages of the main list (a thread reply counts only if also sent to the conversation; others count in \`get_threads\`) after your read point (and your clear_chat point), not deleted, counted up to ${limits.unreadCap}: ${limits.unreadCap} means ${limits.unreadCap} or more`)),
  last_message: v.pipe(v.nullable(Message), v.description('the newest message of the main list you can see (a thread reply only if also sent to the conversation), or null')),
  favorite: v.boolean(),
  pinned: v.boolean(),
  created_at: seconds,
  notifications: v.pipe(v.nullable(NotificationSetting), v.description('the level you set here (`set_notifications`) while it lasts; null: your default applies')),
  avatar_url: avatarUrl,
});

const listing = {
  filter: v.pipe(
    v.nullish(v.picklist(['all', 'favorites', 'pinned'], 'filter must be one of all, favorites, pinned')),
    v.description('optional; default `all`'),
  ),
  sort: v.pipe(
    v.nullish(v.picklist(['created', 'recent'], 'sort must be one of created, recent')),
    v.description('optional; `created` (default, the seed\'s order: oldest conversation first) or `recent` (by last activity, newest first: the newest message of the main list you can see, or the creation when there is none)'),
  ),
};

export const get_conversations = event({
  summary: `Lists the conversations the caller is a member of: the first ${limits.conversationsPage.max} in the order asked for (page through more with \`list_conversations\`). ${readLater}`,
  cost: 5,
  request: fields(listing),
  reply: v.array(ConversationItem),
  errors: [],
});

export const list_conversations = event({
  summary: `Lists the conversations the caller is a member of, a page at a time, in the order of \`get_conversations\`. ${readLater}`,
  cost: 5,
  request: fields({
    ...listing,
    after: pageAfter('`sort` and `filter`'),
    limit: pageLimit(limits.conversationsPage.max, limits.conversationsPage.default),
  }),
  reply: v.object({
    conversations: v.array(ConversationItem),
    next: pageNext,
  }),
  errors: ['bad_cursor'],
});

export const get_conversation_info = event({
  summary: 'Returns one conversation with its members.',
  request: fields({
    id: v.pipe(integer('id is required as int'), v.description('the conversation id (not `conversation_id`, as in the seed)')),
  }),
  reply: Conversation,
  errors: ['not_in_conversation_info'],
});

export const update_conversation = event({
  summary: 'Renames a conversation, or changes its description or picture (owners and admins).',
  request: fields({
    conversation_id: conversationId,
    name: v.pipe(v.nullish(name), v.description('optional; the new name')),
    description: v.pipe(v.nullish(description), v.description('optional; the new description')),
    avatar: avatar('its'),
  }),
  reply: v.object({ conversation_id: id, name: v.string(), description: v.string(), avatar_url: avatarUrl, by: v.string() }),
  guard,
  errors: ['nothing_to_update', 'admins_only', 'no_such_file', 'not_an_image'],
  fanout: 'The same success event is pushed to every socket of every member.',
});

export const delete_conversation = event({
  summary: 'Deletes a conversation for everyone (its owner only): its messages can no longer be read, searched or synced.',
  request: fields({ conversation_id: conversationId }),
  reply: v.object({ conversation_id: id, by: v.string() }),
  guard,
  errors: ['owner_only'],
  fanout: 'The same success event is pushed to every socket of everyone who was a member.',
});

const flag = (field: string) => v.boolean(`expected ${field} as boolean`);

export const set_favorite = event({
  summary: 'Marks a conversation as one of your favorites, or not (for you alone).',
  request: fields({ conversation_id: conversationId, favorite: flag('favorite') }),
  reply: v.object({ conversation_id: id, favorite: v.boolean() }),
  guard,
  errors: [],
  fanout: 'The same success event is pushed to your other sockets.',
});

export const set_pinned = event({
  summary: 'Pins a conversation, or unpins it (for you alone).',
  request: fields({ conversation_id: conversationId, pinned: flag('pinned') }),
  reply: v.object({ conversation_id: id, pinned: v.boolean() }),
  guard,
  errors: [],
  fanout: 'The same success event is pushed to your other sockets.',
});

export const clear_chat = event({
  summary: 'Hides every message sent so far in a conversation, for you alone; the others keep theirs.',
  request: fields({ conversation_id: conversationId }),
  reply: v.object({ conversation_id: id, cleared_id: v.pipe(v.number(), v.description('messages up to this id are hidden from you; 0 when there were none')) }),
  guard,
  errors: [],
  fanout: 'The same success event is pushed to your other sockets.',
});

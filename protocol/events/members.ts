// Events about who is in a conversation and what they may do there.
import * as v from 'valibot';
import { event, id, limits, fields, seconds, conversationId, conversationGuard as guard, readLater } from '../spec.ts';
import { Conversation, Role, invited } from './conversations.ts';
import { avatarUrl } from './files.ts';

const username = v.string('expected username as string');

export const Member = v.object({
  username: v.string(),
  fullname: v.string(),
  role: Role,
  is_online: v.boolean(),
  last_read_id: v.pipe(v.number(), v.description('the newest message they marked read; 0 for none')),
  joined_at: seconds,
  avatar_url: avatarUrl,
});

export const get_members = event({
  summary: `Lists a conversation's members, the creator first, in the order they joined. ${readLater}`,
  cost: 2,
  request: fields({ conversation_id: conversationId }),
  reply: v.array(Member),
  guard,
  errors: [],
});

export const add_members = event({
  summary: 'Adds people to a group or channel (owners and admins); those whose `who_may_add` does not let you add them are invited instead.',
  request: fields({
    conversation_id: conversationId,
    members: v.pipe(
      v.array(v.string('members should be a list of string'), 'members value expected a list'),
      v.nonEmpty('members must list at least one username'),
      v.maxLength(limits.members, `members may list at most ${limits.members} usernames`),
      v.description('usernames; those already members are skipped'),
    ),
  }),
  reply: v.object({
    conversation: Conversation,
    added: v.pipe(v.array(v.string()), v.description('the usernames that joined')),
    by: v.string(),
    invited: invited,
  }),
  guard,
  errors: ['direct_fixed', 'admins_only', 'invalid_member', 'banned', 'already_members', 'too_many_members', 'adds_over_hourly', 'too_many_adds'],
  fanout: 'The same success event is pushed to every socket of every member, the new ones included (their `sync` starts with it).',
});

export const remove_member = event({
  summary: 'Removes someone from a conversation (owners and admins; only the owner removes admins).',
  request: fields({ conversation_id: conversationId, username }),
  reply: v.object({ conversation_id: id, username: v.string(), by: v.string() }),
  guard,
  errors: ['direct_fixed', 'admins_only', 'not_yourself', 'not_member', 'outranked'],
  fanout: 'The same success event is pushed to every socket of every member, the removed one included (it is the last event of the conversation they receive).',
});

export const set_member_role = event({
  summary: 'Makes a member an admin or a member again (the owner; admins may promote members), or hands ownership to them (the owner, who becomes an admin).',
  request: fields({
    conversation_id: conversationId,
    username,
    role: v.picklist(['owner', 'admin', 'member'], 'role must be one of owner, admin, member'),
  }),
  reply: v.object({ conversation_id: id, username: v.string(), role: Role, by: v.string() }),
  guard,
  errors: ['direct_fixed', 'admins_only', 'not_yourself', 'not_member', 'outranked', 'owner_only'],
  fanout: 'The same success event is pushed to every socket of every member.',
});

export const leave_conversation = event({
  summary: 'Leaves a conversation. An owner who leaves hands ownership to the longest-standing admin, else to the longest-standing member; the last one out deletes it.',
  request: fields({ conversation_id: conversationId }),
  reply: v.object({
    conversation_id: id,
    username: v.string(),
    new_owner: v.pipe(v.nullable(v.string()), v.description('who owns it now, when the owner left; else null')),
  }),
  guard,
  errors: ['direct_fixed'],
  fanout: 'The same success event is pushed to every socket of every member, the one who left included.',
});

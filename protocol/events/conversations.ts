// Events about conversations and who is in them.
import * as v from 'valibot';
import { event, id, integer, limits, fields } from '../spec.ts';

export const Conversation = v.object({
  id,
  name: v.string(),
  members: v.pipe(v.array(v.string()), v.description('usernames, the creator first')),
});

export const create_conversation = event({
  summary: 'Creates a conversation of the caller and the listed users (no contact relation needed).',
  request: fields({
    name: v.pipe(
      v.nullish(
        v.pipe(
          v.string('name value expected as a non zero string'),
          v.nonEmpty('name value expected as a non zero string'),
          v.maxLength(limits.name, `name may be at most ${limits.name} characters`),
        ),
      ),
      v.description("optional; default: the members' usernames, comma-separated"),
    ),
    members: v.pipe(
      v.array(v.string('members should be a list of string'), 'members value expected a list'),
      v.maxLength(limits.members, `members may list at most ${limits.members} usernames`),
      v.description('usernames; the caller is added if absent; duplicates are ignored; may be empty'),
    ),
  }),
  reply: Conversation,
  errors: ['invalid_member'],
  fanout: 'The same success event is pushed to every socket of every member, the creator\'s other sockets included.',
});

export const get_conversations = event({
  summary: 'Lists the conversations the caller is a member of, in creation order.',
  request: fields({}),
  reply: v.array(v.object({ id, name: v.string() })),
  errors: [],
});

export const get_conversation_info = event({
  summary: 'Returns one conversation with its members.',
  request: fields({
    id: v.pipe(integer('id is required as int'), v.description('the conversation id (not `conversation_id`, as in the seed)')),
  }),
  reply: Conversation,
  errors: ['not_in_conversation_info'],
});

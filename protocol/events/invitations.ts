// Events about invitations: who may put you in a conversation without asking, and answering those who may not.
import * as v from 'valibot';
import { event, id, limits, fields, seconds, conversationId, cursor, pageLimit } from '../spec.ts';
import { add_members } from './members.ts';
import { kinds } from './conversations.ts';

export const whoMayAdd = ['everyone', 'contacts', 'nobody'] as const;

export const WhoMayAdd = v.pipe(
  v.picklist(whoMayAdd),
  v.description('who may put you in a conversation without asking: `everyone` (the default, as in the seed), your `contacts`, or `nobody`; anyone else\'s add becomes an invitation'),
);

export const Invitation = v.object({
  id,
  conversation_id: id,
  name: v.string(),
  kind: v.picklist(kinds),
  description: v.string(),
  by: v.pipe(v.string(), v.description('who invited you')),
  invited_at: seconds,
});

export const get_invitations = event({
  summary: 'Lists your pending invitations to conversations, newest first, a page at a time.',
  cost: 2,
  request: fields({
    before: cursor('before', 'an invitation id: only older invitations (the last id of the previous page)'),
    limit: pageLimit(limits.invitationsPage.max, limits.invitationsPage.default),
  }),
  reply: v.object({ invitations: v.array(Invitation), has_more: v.boolean() }),
  errors: [],
});

export const accept_invitation = event({
  summary: 'Accepts an invitation: you join the conversation (in a direct conversation, as its second owner).',
  request: fields({ conversation_id: conversationId }),
  reply: v.object({ ...add_members.reply.entries, by: v.pipe(v.string(), v.description('who invited you')) }),
  errors: ['no_such_invitation', 'banned', 'too_many_members'],
  fanout: 'The same success event is pushed to every socket of every member, you included (your `sync` starts with it).',
});

export const decline_invitation = event({
  summary: 'Declines an invitation. Whoever invited you is not told: to them it stays as it was, unanswered.',
  request: fields({ conversation_id: conversationId }),
  reply: v.object({ conversation_id: id }),
  errors: ['no_such_invitation'],
  fanout: 'The same success event is pushed to your other sockets.',
});

// Events about contacts: two-way relations between users.
import * as v from 'valibot';
import { event, fields, id, limits, pageAfter, pageLimit, pageNext, readLater, seconds } from '../spec.ts';
import { User } from './users.ts';

export const add_contact = event({
  summary: `Makes the caller and another user each other's contacts (both ways at once). An account has at most ${limits.contactsPerUser.toLocaleString('en')} contacts, whoever added whom: past that, adding is refused on either side. Each account may add \`CONTACTS_PER_HOUR\` contacts an hour (adding back someone who added you aside).`,
  request: fields({
    contact_username: v.pipe(
      v.string('invalid contact_username, expected a string'),
      v.description('the user to add; matched without regard to case'),
    ),
  }),
  reply: v.object({
    message: v.pipe(v.string(), v.description("`'<username>' successfully added`")),
    contact: User,
  }),
  errors: ['self_contact', 'no_such_user', 'already_blocked', 'already_contact', 'too_many_contacts', 'contacts_full', 'too_many_contact_adds'],
  fanout: 'The added user\'s sockets receive a `contact_added` push naming the caller; the caller\'s other sockets receive one naming the added user.',
});

export const get_contacts = event({
  summary: `Lists the caller's contacts, in the order they were added, a page at a time: without \`limit\` the first ${limits.contactsPage} (the seed's event listed them all, however many), and \`next\` to go on from. ${readLater}`,
  cost: 2,
  request: fields({
    after: pageAfter(),
    limit: pageLimit(limits.contactsPage, limits.contactsPage),
  }),
  reply: v.object({
    message: v.pipe(v.string(), v.description('`got all the contacts`, as in the seed, also for a page')),
    contacts: v.array(User),
    next: pageNext,
  }),
  errors: ['bad_cursor'],
});

export const remove_contact = event({
  summary: 'Ends a contact relation, both ways at once.',
  request: fields({ contact_username: v.string('invalid contact_username, expected a string') }),
  reply: v.object({ username: v.string() }),
  errors: ['no_such_user', 'not_contact'],
  fanout: 'The other person\'s sockets and your other sockets receive a `contact_removed` push naming the other side.',
});

export const block_user = event({
  summary: `Blocks someone: they cannot add you, start or write to a direct conversation with you, or see your presence, and you do not see theirs. A contact relation ends, and their invitations to you go. You may block at most ${limits.blocksPerUser.toLocaleString('en')} people.`,
  request: fields({
    username: v.string('expected username as string'),
    leave_conversations: v.pipe(
      v.nullish(v.boolean('leave_conversations must be true or false')),
      v.description('optional; true: you also leave every group and channel they created that you are in (not a direct conversation: delete it). Also for someone you blocked already'),
    ),
  }),
  reply: v.object({
    username: v.string(),
    blocked_at: seconds,
    left: v.pipe(v.optional(v.array(id)), v.description('with `leave_conversations`: the conversations you left')),
  }),
  errors: ['self_block', 'no_such_user', 'already_blocked', 'too_many_blocks'],
  fanout: 'Your other sockets get the same event; if you were contacts, both sides get `contact_removed`. The blocked person is not told.',
});

export const unblock_user = event({
  summary: 'Lifts a block.',
  request: fields({ username: v.string('expected username as string') }),
  reply: v.object({ username: v.string() }),
  errors: ['not_blocked'],
  fanout: 'Your other sockets get the same event.',
});

export const get_blocked = event({
  summary: `Lists who you blocked, most recent first, a page at a time. ${readLater}`,
  cost: 2,
  request: fields({
    after: pageAfter(),
    limit: pageLimit(limits.blockedPage.max, limits.blockedPage.default),
  }),
  reply: v.object({
    blocked: v.array(v.object({ username: v.string(), fullname: v.string(), blocked_at: seconds })),
    next: pageNext,
  }),
  errors: ['bad_cursor'],
});

// Events about contacts: two-way relations between users.
import * as v from 'valibot';
import { event, fields } from '../spec.ts';
import { User } from './users.ts';

export const add_contact = event({
  summary: 'Makes the caller and another user each other\'s contacts (both ways at once).',
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
  errors: ['self_contact', 'no_such_user', 'already_contact'],
  fanout: 'The added user\'s sockets receive a `contact_added` push naming the caller; the caller\'s other sockets receive one naming the added user.',
});

export const get_contacts = event({
  summary: 'Lists the caller\'s contacts, in the order they were added.',
  request: fields({}),
  reply: v.object({
    message: v.pipe(v.string(), v.description('`got all the contacts`')),
    contacts: v.array(User),
  }),
  errors: [],
});

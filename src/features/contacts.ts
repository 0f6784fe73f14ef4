// Contacts: adding (both ways at once, the other side told) and listing.
import { events } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { eventText } from '../envelope.ts';
import { userView } from './users.ts';
import type { Handlers } from './handler.ts';

export const contactHandlers = {
  add_contact: {
    schema: events.add_contact.request,
    run(ctx, { contact_username }) {
      const me = ctx.caller.user;
      if (contact_username.toLowerCase() === me.username.toLowerCase()) throw fail('self_contact');
      const contact = ctx.store.users.byUsername(contact_username);
      if (!contact) throw fail('no_such_user', { username: contact_username });
      if (ctx.store.contacts.exists(me.id, contact.id)) throw fail('already_contact', { username: contact.username });
      ctx.store.contacts.add(me.id, contact.id, ctx.now());

      const view = userView(ctx, contact);
      const adder = ctx.store.users.byId(me.id);
      // Each side is told of the other: two logged events, replayed by `sync` to each.
      const now = ctx.now();
      const told = [
        { userId: contact.id, dataText: JSON.stringify({ contact: adder && userView(ctx, adder) }) },
        { userId: me.id, dataText: JSON.stringify({ contact: view }) },
      ].map(({ userId, dataText }) => ({ userId, text: eventText('contact_added', dataText, ctx.store.events.forUsers([userId], 'contact_added', dataText, now)) }));
      ctx.commit.after((committed) => {
        if (!committed) return;
        for (const { userId, text } of told) ctx.registry.push([userId], text, ctx.caller);
      });
      return { message: `'${contact.username}' successfully added`, contact: view };
    },
  },
  get_contacts: {
    schema: events.get_contacts.request,
    run: (ctx) => ({
      message: 'got all the contacts',
      contacts: ctx.store.contacts.list(ctx.caller.user.id).map((row) => userView(ctx, row)),
    }),
  },
} satisfies Partial<Handlers>;

// Contacts (adding and removing, both ways at once, the other side told) and blocks.
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { logAndDeliver } from '../delivery/fanout.ts';
import { oneUserView, userViews, viewer, viewerOf, visibleUser } from './users.ts';
import { later, laterRead, tell, type Handlers } from './handler.ts';
import { leave } from './members.ts';
import { cursorAfter } from '../reads/paging.ts';
import type { Ctx } from '../context.ts';

/** Tells each user of a contact change with their own data (logged; the caller's other sockets included). */
async function tellEach(ctx: Ctx, type: 'contact_added' | 'contact_removed', told: { userId: number; data: unknown }[]): Promise<void> {
  for (const { userId, data } of told) await logAndDeliver(ctx, type, data, { users: [userId] }, ctx.caller);
}

export const contactHandlers = {
  add_contact: {
    schema: events.add_contact.request,
    async run(ctx, { contact_username }) {
      const me = ctx.caller.user;
      if (contact_username.toLowerCase() === me.username.toLowerCase()) throw fail('self_contact');
      const contact = await visibleUser(ctx, contact_username);
      if (await ctx.store.contacts.blocks(me.id, contact.id)) throw fail('already_blocked', { username: contact.username });
      const relation = await ctx.store.contacts.relation(me.id, contact.id);
      const adder = await ctx.store.users.byId(me.id);
      if (relation !== 'none') {
        // They added you: for someone whose who_may_add is `contacts`, adding them back makes them a contact
        // of your choice (who may add you); anyone else is told, as the seed told them, that they are one.
        if (relation === 'chosen' || adder?.who_may_add !== 'contacts') throw fail('already_contact', { username: contact.username });
        await ctx.store.contacts.choose(me.id, contact.id);
        return { message: `'${contact.username}' successfully added`, contact: await oneUserView(ctx, contact, await viewerOf(ctx, me.id, [contact.id])) };
      }
      // Both sides are capped: adding writes a row on each, so otherwise anyone could grow anyone's list.
      const [mine, theirs] = await ctx.store.contacts.countsToAdd(me.id, contact.id);
      if (mine >= limits.contactsPerUser) throw fail('too_many_contacts', { limit: limits.contactsPerUser });
      if (theirs >= limits.contactsPerUser) throw fail('contacts_full', { username: contact.username, limit: limits.contactsPerUser });
      // Counted last, so that a refused add costs nothing of the hour's allowance.
      await ctx.quotas.addingContact(me.id);
      await ctx.store.contacts.add(me.id, contact.id, ctx.now());
      const view = await oneUserView(ctx, contact, await viewerOf(ctx, me.id, [contact.id]));
      // Each side is told of the other: two logged events, replayed by `sync` to each.
      await tellEach(ctx, 'contact_added', [
        { userId: contact.id, data: { contact: adder && (await oneUserView(ctx, adder, await viewerOf(ctx, contact.id, [adder.id]))) } },
        { userId: me.id, data: { contact: view } },
      ]);
      return { message: `'${contact.username}' successfully added`, contact: view };
    },
  },
  get_contacts: {
    schema: events.get_contacts.request,
    async run(ctx, { after, limit }) {
      const reader = ctx.caller.user.id;
      const query = { reader, from: cursorAfter(after, 1), limit: limit ?? limits.contactsPage };
      // Read after the commit, away from the queue of work (on SQLite on a reader thread); who is online is asked here.
      return later(async () => {
        const { value: { rows, next, blocked }, ms } = await ctx.reads.run('contacts', query);
        return { data: { message: 'got all the contacts', contacts: await userViews(ctx, rows, viewer(reader, blocked)), next }, ms };
      });
    },
  },
  remove_contact: {
    schema: events.remove_contact.request,
    async run(ctx, { contact_username }) {
      const me = ctx.caller.user;
      const contact = await ctx.store.users.byUsername(contact_username);
      if (!contact) throw fail('no_such_user', { username: contact_username });
      if (!(await ctx.store.contacts.remove(me.id, contact.id))) throw fail('not_contact', { username: contact.username });
      await tellEach(ctx, 'contact_removed', [
        { userId: contact.id, data: { username: me.username } },
        { userId: me.id, data: { username: contact.username } },
      ]);
      return { username: contact.username };
    },
  },
  block_user: {
    schema: events.block_user.request,
    async run(ctx, { username, leave_conversations }) {
      const me = ctx.caller.user;
      if (username.toLowerCase() === me.username.toLowerCase()) throw fail('self_block');
      const user = await ctx.store.users.byUsername(username);
      if (!user) throw fail('no_such_user', { username });
      const before = await ctx.store.contacts.blockedAt(me.id, user.id);
      if (before !== undefined && !leave_conversations) throw fail('already_blocked', { username: user.username });
      const blockedAt = before ?? ctx.now();
      if (before === undefined) {
        if ((await ctx.store.contacts.blockCountToBlock(me.id)) >= limits.blocksPerUser) throw fail('too_many_blocks', { limit: limits.blocksPerUser });
        if ((await ctx.store.contacts.block(me.id, user.id, blockedAt)) && (await ctx.store.contacts.remove(me.id, user.id))) {
          await tellEach(ctx, 'contact_removed', [
            { userId: user.id, data: { username: me.username } },
            { userId: me.id, data: { username: user.username } },
          ]);
        }
      }
      await ctx.store.invitations.removeFrom(me.id, user.id);
      if (!leave_conversations) return tell({ username: user.username, blocked_at: blockedAt }, { users: [me.id] });
      // Out of whatever they pulled you into: each left as leave_conversation would, everyone there told.
      const left = await ctx.store.conversations.createdBy(user.id, me.id);
      for (const id of left) {
        const { data, audience } = await leave(ctx, id, me, (await ctx.store.members.get(id, me.id))!.role);
        await logAndDeliver(ctx, 'leave_conversation', data, audience);
      }
      return tell({ username: user.username, blocked_at: blockedAt, left }, { users: [me.id] });
    },
  },
  unblock_user: {
    schema: events.unblock_user.request,
    async run(ctx, { username }) {
      const me = ctx.caller.user;
      const user = await ctx.store.users.byUsername(username);
      if (!user || !(await ctx.store.contacts.unblock(me.id, user.id))) throw fail('not_blocked', { username });
      return tell({ username: user.username }, { users: [me.id] });
    },
  },
  get_blocked: {
    schema: events.get_blocked.request,
    async run(ctx, { after, limit }) {
      const query = { reader: ctx.caller.user.id, from: cursorAfter(after, 2), limit: limit ?? limits.blockedPage.default };
      return laterRead(ctx, 'blocked', query);
    },
  },
} satisfies Partial<Handlers>;

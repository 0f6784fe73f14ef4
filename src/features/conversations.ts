// Conversations: creating one (every member told), listing them, changing and deleting them, and each member's own settings.
import { avatarUrl } from '../delivery/views.ts';
import { events, limits, type EventRequest } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { conversationTopic } from '../registry.ts';
import { aPerson, asAdmin, invite, mayAdd, memberOf, membership } from './membership.ts';
import type { Ctx } from '../context.ts';
import type { UserRow } from '../storage/index.ts';
import { directKey, type ConversationRow } from '../storage/stores/conversations.ts';
import { later, tell, type Handlers } from './handler.ts';
import { parseCursor, type ConversationPage } from '../reads/conversation-list.ts';
import { invitable } from './users.ts';
import { notifyJoined } from './notify.ts';
import { ownImage, replacePicture } from './files.ts';

export async function conversationView(ctx: Ctx, row: ConversationRow) {
  return {
    id: row.id, name: row.name, members: await ctx.store.conversations.memberUsernames(row.id), kind: row.kind, description: row.description,
    created_at: row.created_at, avatar_url: avatarUrl(row.avatar_file_id),
  };
}

export const conversationHandlers = {
  create_conversation: {
    schema: events.create_conversation.request,
    async run(ctx, { name, members, kind, description }) {
      // The seed's requests (no kind) and direct ones must list members; a group or channel named as such may start with its creator alone.
      if (members == null && (kind == null || kind === 'direct')) throw fail('members_required');
      await aPerson(ctx, 'make conversations: it joins those it is added to');
      const me = ctx.caller.user;
      const seen = new Set([me.username.toLowerCase()]);
      const listed: UserRow[] = [];
      for (const username of members ?? []) {
        if (seen.has(username.toLowerCase())) continue;
        listed.push(await invitable(ctx, username));
        seen.add(username.toLowerCase());
      }
      if (listed.length + 1 > limits.members) throw fail('too_many_members', { limit: limits.members });
      const now = ctx.now();
      if (kind === 'direct') {
        if (listed.length !== 1) throw fail('direct_needs_one');
        const found = await ctx.store.conversations.direct(me.id, listed[0]!.id);
        // Nothing is created, so nobody else is told; unless the caller was only invited to it: asking is accepting.
        if (found && (await ctx.store.members.get(found.id, me.id))) return await conversationView(ctx, found);
        if (found) {
          await ctx.store.members.add(found.id, me.id, now, 'owner');
          await ctx.store.invitations.remove(found.id, me.id);
          return tell(await conversationView(ctx, found), { conversation: found.id, joined: [me.id] });
        }
      }
      const added: UserRow[] = [];
      const invitees: UserRow[] = [];
      for (const user of listed) (await mayAdd(ctx, user) ? added : invitees).push(user);
      await ctx.quotas.creating(me.id, kind ?? 'group', listed.length);
      const title = name ?? [me.username, ...listed.map((user) => user.username)].join(', ').slice(0, limits.name);
      const ids = [me.id, ...added.map((user) => user.id)];
      const conversation = { name: title, kind: kind ?? 'group', description: description ?? '', created_at: now, avatar_file_id: null };
      const id = await ctx.store.conversations.create({
        ...conversation,
        creatorId: me.id,
        memberIds: ids,
        directKey: kind === 'direct' ? directKey(me.id, listed[0]!.id) : null,
        now,
      });
      const invited = await invite(ctx, { id, ...conversation }, invitees);
      const data = {
        id, name: title, members: [me.username, ...added.map((user) => user.username)], kind: conversation.kind, description: conversation.description, created_at: now, avatar_url: null,
        ...(invited.length ? { invited } : {}),
      };
      await notifyJoined(ctx, data, me, ids);
      return tell(data, { conversation: id, joined: ids });
    },
  },
  get_conversations: {
    schema: events.get_conversations.request,
    run: async (ctx, { filter, sort }) => pageLater(ctx, { filter, sort, limit: limits.conversationsPage.max }, (page) => page.items),
  },
  list_conversations: {
    schema: events.list_conversations.request,
    run: async (ctx, { filter, sort, after, limit }) =>
      pageLater(ctx, { filter, sort, after, limit: limit ?? limits.conversationsPage.default }, ({ items, next }) => ({ conversations: items, next })),
  },
  get_conversation_info: {
    schema: events.get_conversation_info.request,
    async run(ctx, { id }) {
      const me = ctx.caller.user;
      const conversation = (await ctx.store.members.get(id, me.id)) && (await ctx.store.conversations.byId(id));
      if (!conversation) throw fail('not_in_conversation_info', { username: me.username, id });
      return await conversationView(ctx, conversation);
    },
  },
  update_conversation: {
    schema: events.update_conversation.request,
    guard: memberOf,
    async run(ctx, { conversation_id, name, description, avatar }) {
      if (name == null && description == null && avatar === undefined) throw fail('nothing_to_update');
      const { conversation } = await asAdmin(ctx, conversation_id, 'change its name, description or picture');
      const picture = avatar === undefined ? conversation.avatar_file_id : await ownImage(ctx, avatar);
      const next = { name: name ?? conversation.name, description: description ?? conversation.description };
      await ctx.store.conversations.update(conversation_id, next.name, next.description);
      await replacePicture(ctx, conversation.avatar_file_id, picture, (fileId) => ctx.store.files.setConversationAvatar(conversation_id, fileId));
      return tell({ conversation_id, ...next, avatar_url: avatarUrl(picture), by: ctx.caller.user.username }, { conversation: conversation_id });
    },
  },
  delete_conversation: {
    schema: events.delete_conversation.request,
    guard: memberOf,
    async run(ctx, { conversation_id }) {
      const { member } = await membership(ctx, conversation_id);
      if (member.role !== 'owner') throw fail('owner_only', { id: conversation_id, action: 'delete it' });
      return tell({ conversation_id, by: ctx.caller.user.username }, { users: await removeConversation(ctx, conversation_id) });
    },
  },
  set_favorite: {
    schema: events.set_favorite.request,
    guard: memberOf,
    async run(ctx, { conversation_id, favorite }) {
      await ctx.store.members.setFavorite(conversation_id, ctx.caller.user.id, favorite);
      return tell({ conversation_id, favorite }, { users: [ctx.caller.user.id] });
    },
  },
  set_pinned: {
    schema: events.set_pinned.request,
    guard: memberOf,
    async run(ctx, { conversation_id, pinned }) {
      await ctx.store.members.setPinned(conversation_id, ctx.caller.user.id, pinned);
      return tell({ conversation_id, pinned }, { users: [ctx.caller.user.id] });
    },
  },
  clear_chat: {
    schema: events.clear_chat.request,
    guard: memberOf,
    async run(ctx, { conversation_id }) {
      const clearedId = await ctx.store.messages.latest(conversation_id);
      await ctx.store.members.setCleared(conversation_id, ctx.caller.user.id, clearedId);
      return tell({ conversation_id, cleared_id: clearedId }, { users: [ctx.caller.user.id] });
    },
  },
} satisfies Partial<Handlers>;

type Listing = EventRequest<'list_conversations'>;

/**
 * A page of the caller's conversations, read after the commit (on SQLite on a reader thread): a bad
 * cursor is refused in the unit. The read points the caller's own sending moved and not yet written are
 * taken when the read starts, so they are at least as fresh as the rows it reads.
 */
function pageLater<D>(ctx: Ctx, { filter, sort, after, limit }: Pick<Listing, 'filter' | 'sort' | 'after'> & { limit: number }, shape: (page: ConversationPage) => D) {
  const { id, username } = ctx.caller.user;
  const from = after == null ? null : parseCursor(sort, after);
  return later(async () => {
    const query = { reader: { id, username }, filter: filter ?? 'all', sort, from, limit, pendingReads: ctx.receipts.pendingReads(id), now: ctx.now() };
    const { value, ms } = await ctx.reads.run('conversations', query);
    return { data: shape(value), ms };
  });
}

/**
 * Deletes a conversation for everyone: members, messages (and so their search entries), bans and its
 * logged events go. Returns who was in it; their sockets stop hearing of it once committed.
 */
export async function removeConversation(ctx: Ctx, conversationId: number): Promise<number[]> {
  const memberIds = (await ctx.store.conversations.members(conversationId)).map((member) => member.id);
  // Its files and picture go too, unless something else refers to them.
  const avatar = (await ctx.store.conversations.byId(conversationId))?.avatar_file_id;
  const files = [...(await ctx.store.files.attachedIn(conversationId)), ...(avatar ? [avatar] : [])];
  await ctx.store.conversations.remove(conversationId, ctx.now());
  await ctx.store.files.remove(files, ctx.now());
  await ctx.store.events.forgetConversation(conversationId);
  await ctx.store.invitations.forgetConversation(conversationId);
  await ctx.store.members.dropPeriods(conversationId);
  ctx.job.after((committed) => committed && ctx.registry.unsubscribe(memberIds, conversationTopic(conversationId)));
  return memberIds;
}

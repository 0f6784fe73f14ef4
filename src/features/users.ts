// People: your own account and profile, how a user is shown to others, the directory, and your status.
import { avatarUrl } from '../delivery/views.ts';
import type * as v from 'valibot';
import { events, limits, type User } from '../../protocol/index.ts';
import { fail, keepingWrites } from '../errors.ts';
import { logAndDeliver } from '../delivery/fanout.ts';
import { announce } from './presence.ts';
import { codeMailWait, sendCode, useCode } from '../auth/codes.ts';
import { later, tell, type Handlers } from './handler.ts';
import { ownImage, replacePicture } from './files.ts';
import type { App, Ctx } from '../context.ts';
import type { UserRow } from '../storage/index.ts';
import { secondFactorRequired } from '../auth/second-factor.ts';

/** Who is looking, and which of the people in view they cannot see the presence of (blocked either way). */
export type Viewer = { readonly id: number; readonly blocked: ReadonlySet<number> };

/**
 * `userId` looking at `people`: the blocks either way between them, looked up for those people alone.
 * Not every block of theirs: nothing bounds how many people may block someone.
 */
export const viewerOf = async (app: Pick<App, 'store'>, userId: number, people: readonly number[]): Promise<Viewer> =>
  viewer(userId, await app.store.contacts.blockedAmong(userId, people));

/** `userId` looking at people of whom `blocked` are on either side of a block with them (as a read found them). */
export const viewer = (userId: number, blocked: readonly number[]): Viewer => ({ id: userId, blocked: new Set(blocked) });

/**
 * Which of `people` `viewer` sees online: a socket open on some node of the cluster (asked once for the
 * whole list), not invisible (to others), no block either way.
 */
export async function shownOnline(app: App, people: readonly { id: number; status: string }[], viewer: Viewer): Promise<ReadonlySet<number>> {
  const shown = people.filter((person) => person.id === viewer.id || (person.status !== 'invisible' && !viewer.blocked.has(person.id)));
  return app.cluster.online(shown.map((person) => person.id));
}

function userView(row: UserRow, online: boolean): v.InferOutput<typeof User> {
  return {
    username: row.username,
    fullname: row.fullname,
    is_online: online,
    last_online: row.last_online,
    created_at: row.created_at,
    bio: row.bio,
    status: online ? row.status : 'offline',
    status_text: row.status_text,
    avatar_url: avatarUrl(row.avatar_file_id),
  };
}

/** How `viewer` sees each of `rows`. */
export async function userViews(app: App, rows: readonly UserRow[], viewer: Viewer): Promise<v.InferOutput<typeof User>[]> {
  const online = await shownOnline(app, rows, viewer);
  return rows.map((row) => userView(row, online.has(row.id)));
}

/** How `viewer` sees `row`. */
export const oneUserView = async (app: App, row: UserRow, viewer: Viewer) => (await userViews(app, [row], viewer))[0]!;

async function selfView(app: App, row: UserRow) {
  return {
    ...(await oneUserView(app, row, { id: row.id, blocked: new Set() })),
    email: row.email,
    email_verified: row.email_verified === 1,
    role: row.role,
    notifications: row.notify_default,
    notify_reactions: row.notify_reactions === 1,
    who_may_add: row.who_may_add,
    two_factor: (await app.store.twoFactor.get(row.id))?.enabled_at != null,
    two_factor_required: secondFactorRequired(app.settings, row),
  };
}

async function currentUser(ctx: Ctx): Promise<UserRow> {
  const row = await ctx.store.users.byId(ctx.caller.user.id);
  if (!row) throw fail('no_such_user', { username: ctx.caller.user.username });
  return row;
}

/** A user the caller may look at: someone who blocked the caller is as unknown as nobody. */
export async function visibleUser(ctx: Ctx, username: string): Promise<UserRow> {
  const row = await ctx.store.users.byUsername(username);
  if (!row || (await ctx.store.contacts.blocks(row.id, ctx.caller.user.id))) throw fail('no_such_user', { username });
  return row;
}

/**
 * Someone the caller may put in a conversation (create_conversation, add_members): a person who
 * blocked the caller is not theirs to pull in, and is as unknown as nobody; someone the caller
 * blocked must be unblocked first.
 */
export async function invitable(ctx: Ctx, username: string): Promise<UserRow> {
  const row = await ctx.store.users.byUsername(username);
  // A webhook's account belongs to its one conversation: it is nobody's to add elsewhere.
  if (!row || row.kind === 'webhook' || (await ctx.store.contacts.blocks(row.id, ctx.caller.user.id))) throw fail('invalid_member', { username });
  if (await ctx.store.contacts.blocks(ctx.caller.user.id, row.id)) throw fail('you_blocked', { username: row.username });
  return row;
}

export const userHandlers = {
  self: {
    schema: events.self.request,
    run: async (ctx) => selfView(ctx, await currentUser(ctx)),
  },
  update_profile: {
    schema: events.update_profile.request,
    async run(ctx, { fullname, bio, email, avatar, notifications, notify_reactions, who_may_add }) {
      if (fullname == null && bio == null && email == null && avatar === undefined && notifications == null && notify_reactions == null && who_may_add == null) {
        throw fail('nothing_to_update_profile');
      }
      const row = await currentUser(ctx);
      const picture = avatar === undefined ? row.avatar_file_id : await ownImage(ctx, avatar);
      const changedEmail = email != null && email !== row.email;
      if (changedEmail) {
        const wait = await codeMailWait(ctx, row.id, 'verify', email);
        if (wait > 0) throw fail('too_many_code_mails', { minutes: Math.ceil(wait / 60) });
      }
      await ctx.store.users.setProfile(row.id, {
        fullname: fullname ?? row.fullname,
        bio: bio ?? row.bio,
        email: email ?? row.email,
        emailVerified: changedEmail ? false : row.email_verified === 1,
      });
      await replacePicture(ctx, row.avatar_file_id, picture, (fileId) => ctx.store.files.setUserAvatar(row.id, fileId));
      if (changedEmail) await sendCode(ctx, row.id, 'verify', email);
      if (notifications != null || notify_reactions != null) {
        await ctx.store.notifications.setDefaults(row.id, notifications ?? row.notify_default, notify_reactions ?? row.notify_reactions === 1);
      }
      if (who_may_add != null) await ctx.store.users.setWhoMayAdd(row.id, who_may_add);
      const updated = await currentUser(ctx);
      // The public profile goes to contacts and to the caller's other sockets, logged for each.
      const users = [...(await ctx.store.contacts.ids(row.id)), row.id];
      await logAndDeliver(ctx, 'user_updated', { user: await oneUserView(ctx, updated, { id: 0, blocked: new Set() }) }, { users }, ctx.caller);
      return selfView(ctx, updated);
    },
  },
  verify_email: {
    schema: events.verify_email.request,
    async run(ctx, { code }) {
      const row = await currentUser(ctx);
      const sentTo = await useCode(ctx, row.id, 'verify', code);
      if (sentTo === undefined || sentTo !== row.email) throw keepingWrites(fail('bad_code'));
      await ctx.store.users.setProfile(row.id, { fullname: row.fullname, bio: row.bio, email: row.email, emailVerified: true });
      return selfView(ctx, await currentUser(ctx));
    },
  },
  get_user: {
    schema: events.get_user.request,
    async run(ctx, { username }) {
      const row = await visibleUser(ctx, username);
      return oneUserView(ctx, row, await viewerOf(ctx, ctx.caller.user.id, [row.id]));
    },
  },
  search_users: {
    schema: events.search_users.request,
    async run(ctx, { query, after, limit }) {
      const reader = ctx.caller.user.id;
      const input = { reader, query, after: after ?? '', size: limit ?? limits.usersPage.default, examined: limits.usersExamined };
      // Read after the commit, away from the queue of work (a query that matches few looks at many people); who is online is asked here.
      return later(async () => {
        const { value: { rows, next, blocked }, ms } = await ctx.reads.run('users', input);
        return { data: { users: await userViews(ctx, rows, viewer(reader, blocked)), next }, ms };
      });
    },
  },
  set_status: {
    schema: events.set_status.request,
    async run(ctx, { status, text }) {
      const row = await currentUser(ctx);
      await ctx.store.users.setStatus(row.id, status, text ?? '');
      // Becoming invisible looks like going offline now, and coming back like coming online.
      if ((status === 'invisible') !== (row.status === 'invisible')) await ctx.store.users.setLastOnline(row.id, ctx.now());
      await announce(ctx, row.id);
      return tell({ status, status_text: text ?? '' }, { users: [row.id] });
    },
  },
} satisfies Partial<Handlers>;

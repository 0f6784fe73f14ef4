// The caller's own account, and how a user is shown to others.
import { events, type User } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import type { App } from '../context.ts';
import type { UserRow } from '../storage/index.ts';
import type { Handlers } from './handler.ts';
import type * as v from 'valibot';

export function userView(app: App, row: UserRow): v.InferOutput<typeof User> {
  return {
    username: row.username,
    fullname: row.fullname,
    is_online: app.registry.isOnline(row.id),
    last_online: row.last_online,
    created_at: row.created_at,
  };
}

export const userHandlers = {
  self: {
    schema: events.self.request,
    run(ctx) {
      const row = ctx.store.users.byId(ctx.caller.user.id);
      if (!row) throw fail('no_such_user', { username: ctx.caller.user.username });
      return userView(ctx, row);
    },
  },
} satisfies Partial<Handlers>;

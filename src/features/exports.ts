// Exports: asking for a zip of your own data, or (admins) of one conversation; it is built after the commit (src/exports/build.ts).
import { randomBytes } from 'node:crypto';
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { asAdmin } from './admin.ts';
import { exportLease } from '../exports/build.ts';
import type { Handlers } from './handler.ts';

export const exportHandlers = {
  request_export: {
    schema: events.request_export.request,
    async run(ctx, { conversation_id }) {
      const me = ctx.caller.user;
      if (conversation_id !== undefined) {
        await asAdmin(ctx, 'request_export with conversation_id');
        if (!(await ctx.store.conversations.byId(conversation_id))) throw fail('no_such_conversation', { id: conversation_id });
      }
      const now = ctx.now();
      if (await ctx.store.exports.underWay(me.id)) throw fail('export_under_way');
      const job = { id: randomBytes(16).toString('hex'), userId: me.id, conversationId: conversation_id ?? null };
      // This node builds it, leased: should it stop first, another round takes it up (src/exports/resume.ts).
      await ctx.store.exports.create({ ...job, now, expiresAt: now + limits.exportHours * 3600, leaseUntil: now + exportLease.seconds });
      ctx.log.info('export requested', { export: job.id, user: me.username, ...(conversation_id === undefined ? {} : { conversation: conversation_id }) });
      ctx.job.after((committed) => committed && ctx.exports.build(job));
      return { export_id: job.id };
    },
  },
} satisfies Partial<Handlers>;

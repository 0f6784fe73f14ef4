// Events about exports: asking for a zip of your data (or, for an admin, of one conversation), and hearing it is ready (or will not come).
import * as v from 'valibot';
import { event, fields, integer, seconds, limits } from '../spec.ts';

export const request_export = event({
  summary: `Asks for a zip of your data: your profile, sessions, contacts, the messages you sent and the files you uploaded. With \`conversation_id\` (admins only) a zip of that conversation instead: its members and every message. It is built in the background; an \`export_ready\` push says where to download it, once, with your cookie, within ${limits.exportHours} hours, or an \`export_failed\` push that it will not come (a server that stops while building it leaves it to be built again, when it or another node starts). One export of yours is built at a time.`,
  request: fields({
    conversation_id: v.pipe(
      v.optional(integer('expected conversation_id as integer')),
      v.description('optional, admins only: export this conversation rather than your own data'),
    ),
  }),
  reply: v.object({ export_id: v.pipe(v.string(), v.description('names the export in `export_ready`')) }),
  errors: ['admins_only_event', 'no_such_conversation', 'export_under_way'],
});

export const ExportReady = v.object({
  export_id: v.string(),
  url: v.pipe(v.string(), v.description('`GET` it with your login cookie: answered once, then gone')),
  size: v.pipe(v.number(), v.description('bytes of the zip')),
  expires_at: seconds,
});

export const ExportFailed = v.object({
  export_id: v.string(),
  reason: v.pipe(v.string(), v.description('why, in words: the build failed, or was interrupted (its server stopped) too often. Ask again with `request_export`')),
});

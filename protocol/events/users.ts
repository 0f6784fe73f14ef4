// Events about people: the caller's own account.
import * as v from 'valibot';
import { event, seconds, fields } from '../spec.ts';

export const User = v.object({
  username: v.string(),
  fullname: v.string(),
  is_online: v.pipe(v.boolean(), v.description('true while the user has at least one socket open')),
  last_online: v.pipe(seconds, v.description('when the user last came online or went offline (Unix seconds)')),
  created_at: seconds,
});

export const self = event({
  summary: 'Returns the caller\'s own account.',
  request: fields({}),
  reply: User,
  errors: ['no_such_user'],
});

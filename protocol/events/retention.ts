// Events about retention: how long a conversation keeps its messages before the retention job deletes them.
import * as v from 'valibot';
import { event, id, integer, limits, fields, conversationId, conversationGuard as guard } from '../spec.ts';

const daysRule = `days must be a whole number from 1 to ${limits.retentionDays}, or null`;

export const set_retention = event({
  summary: 'Sets how many days a conversation keeps its messages (its owner or an admin): older ones are deleted for everyone, with their files, search entries and logged events, by a job that runs every RETENTION_ROUND_SECONDS. `null` goes back to the server\'s RETENTION_DAYS.',
  request: fields({
    conversation_id: conversationId,
    days: v.pipe(
      v.union([v.null(), v.pipe(integer(daysRule), v.minValue(1, daysRule), v.maxValue(limits.retentionDays, daysRule))], daysRule),
      v.description(`1–${limits.retentionDays}, or null for the server's RETENTION_DAYS`),
    ),
  }),
  reply: v.object({
    conversation_id: id,
    days: v.pipe(v.nullable(v.number()), v.description('as set: null follows the server\'s RETENTION_DAYS')),
    effective_days: v.pipe(v.nullable(v.number()), v.description('the days messages are now kept; null: for ever (the server keeps them for ever and the conversation set nothing)')),
    by: v.string(),
  }),
  guard,
  errors: ['admins_only'],
  fanout: 'The same success event is pushed to every socket of every member.',
});

export const get_retention = event({
  summary: 'Tells a member how many days a conversation keeps its messages: what `set_retention` set, and what applies (the server\'s RETENTION_DAYS where it set nothing).',
  request: fields({ conversation_id: conversationId }),
  reply: v.object({
    conversation_id: id,
    days: v.pipe(v.nullable(v.number()), v.description('as set with set_retention: null follows the server\'s RETENTION_DAYS')),
    effective_days: v.pipe(v.nullable(v.number()), v.description('the days messages are kept; null: for ever')),
  }),
  guard,
  errors: [],
});

/** What the retention job tells a conversation's members after deleting some of its oldest messages. */
export const MessagesExpired = v.object({
  conversation_id: id,
  through_id: v.pipe(v.number(), v.description('every message of the conversation up to this id is gone: drop them')),
});

// Connection-level events.
import { events } from '../../protocol/index.ts';
import type { Handlers } from './handler.ts';

export const systemHandlers = {
  ping: {
    schema: events.ping.request,
    run: async () => 'pong' as const,
  },
} satisfies Partial<Handlers>;

// Events about the connection itself.
import * as v from 'valibot';
import { event } from '../spec.ts';

export const ping = event({
  summary: 'Answers `"pong"`: a liveness check, like `GET /misc/ping`.',
  request: v.object({}),
  reply: v.literal('pong'),
  errors: [],
});

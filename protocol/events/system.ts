// Events about the connection itself.
import * as v from 'valibot';
import { event, fields } from '../spec.ts';

export const ping = event({
  summary: 'Answers `"pong"`: a liveness check, like `GET /misc/ping`.',
  request: fields({}),
  reply: v.literal('pong'),
  errors: [],
});

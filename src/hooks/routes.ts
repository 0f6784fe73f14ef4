// POST /hooks/:id/:secret: an incoming webhook's post, sent into its conversation as send_message sends a socket's;
// POST /hooks/:id/:secret/files: a file it uploads (as POST /files takes one) to attach to a post.
import { limits, type ErrorCode } from '../../protocol/index.ts';
import { createDetachedConnection } from '../connection.ts';
import { socketContext, type App } from '../context.ts';
import { dispatch } from '../dispatch.ts';
import { hashSecret, secretMatches } from '../auth/bot-tokens.ts';
import { accountBudget, createWorkBudgets } from '../throttle.ts';
import type { UploadsAs } from '../files/records.ts';
import type { WebhookRow } from '../storage/stores/webhooks.ts';
import type { Request, RequestHead, Response, Routes, StreamedRoute } from '../transport/http.ts';

const json = (status: number, body: string, headers: readonly [string, string][] = []): Response => ({ status, body, headers: [['Content-Type', 'application/json'], ...headers] });
const text = (status: number, body: string): Response => ({ status, body });

/** A wrong id, a wrong secret and a deleted webhook all look alike. */
const unknown = () => text(404, 'no such webhook');
/** Compared against when the id names no webhook, so that a miss costs what a wrong secret does. */
const nobody = '0'.repeat(64);

/** The HTTP status of a send_message refusal. */
const statusOf: Record<ErrorCode, number> = {
  invalid_json: 400, unknown_type: 400, bad_request: 400, not_found: 404, forbidden: 403, conflict: 409, rate_limited: 429, unavailable: 503, internal: 500, upstream: 502,
};

/** Makes the upload route for files uploaded as the account `uploadsAs` names (src/files' own, given by the server). */
export type WebhookUploads = (uploadsAs: UploadsAs) => StreamedRoute;

export function hookRoutes(app: App, uploads: WebhookUploads): Routes {
  // Held across the nodes of a cluster: a webhook's URL gets no more by reaching several.
  const perUrl = app.cluster.window('webhook-posts', app.settings.WEBHOOK_POSTS_PER_MINUTE, 60_000);
  // The server time webhooks' accounts take, as sockets' accounts are charged theirs (per node).
  const budgets = createWorkBudgets(app.settings.RATE_LIMIT_WORK_MS, app.settings.RATE_LIMIT_WORK_BURST_MS, limits.searchesAtOnce);

  /**
   * The webhook a request's URL names, or the answer to send instead. Counted per URL before anything is
   * read (posts and uploads alike): past the limit a flood of one URL, right or wrong, costs no database
   * read, and nobody without the secret uses up a webhook's posts.
   */
  async function webhookOf(request: RequestHead): Promise<WebhookRow | Response> {
    const { id, secret } = request.params as { id: string; secret: string };
    const wait = await perUrl(`${id}/${hashSecret(secret)}`);
    if (wait > 0) {
      app.metrics.refused('webhook');
      const seconds = Math.ceil(wait / 1000);
      return { status: 429, body: `too many posts to this webhook (WEBHOOK_POSTS_PER_MINUTE): retry in ${seconds} s`, headers: [['Retry-After', String(seconds)]] };
    }
    const hook = /^[1-9][0-9]{0,15}$/.test(id) ? await app.store.webhooks.byId(Number(id)) : undefined;
    if (!secretMatches(secret, hook?.secret_hash ?? nobody) || !hook) return unknown();
    if (hook.account_status === 'suspended') return text(403, 'account suspended');
    return hook;
  }

  async function post(request: Request): Promise<Response> {
    const hook = await webhookOf(request);
    if ('status' in hook) return hook;
    let body: unknown;
    try {
      body = JSON.parse(request.body);
    } catch {
      body = undefined;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return text(400, 'the body must be a JSON object: {"content": "...", "attachments"?: [...], "client_id"?: "..."}');
    const { content, attachments, client_id } = body as Record<string, unknown>;
    // The frame a member's socket would send: every check, the seq, sync, pushes and client_id are send_message's own.
    const frame = JSON.stringify({ type: 'send_message', conversation_id: hook.conversation_id, content, attachments, client_id });
    const reply = await new Promise<string>((resolve) => {
      const caller = createDetachedConnection({ id: hook.user_id, username: hook.username }, `webhook:${hook.id}`, request.ip, accountBudget(budgets, hook.user_id), resolve, (topic, text) => app.registry.publish(topic, text));
      dispatch(socketContext(app, caller), frame);
    });
    const envelope = JSON.parse(reply) as { success: boolean; code?: ErrorCode };
    if (envelope.success) return json(200, reply);
    const status = envelope.code ? statusOf[envelope.code] : 500;
    return json(status, reply, status === 429 ? [['Retry-After', '1']] : []);
  }

  // Uploaded as the webhook's account: its own hourly uploads, uploads at once and quota, and only its posts may attach them.
  const upload = uploads(async (request) => {
    const hook = await webhookOf(request);
    return 'status' in hook ? { refuse: hook } : { user: { id: hook.user_id, username: hook.username } };
  });

  return { '/hooks/:id/:secret': { POST: post }, '/hooks/:id/:secret/files': { POST: upload } };
}

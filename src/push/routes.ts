// GET /push/key: what a page needs before login to subscribe a browser (the VAPID public key) and which
// kinds of device this server reaches; the same as the `get_push_key` event.
import type { App } from '../context.ts';
import type { Routes } from '../transport/http.ts';

export const pushKey = (app: Pick<App, 'push' | 'settings'>) => ({
  public_key: app.push.publicKey,
  webpush: app.settings.PUSH_ENDPOINT_HOSTS.length > 0,
  webhook: app.settings.PUSH_WEBHOOK_URL !== undefined,
});

export function pushRoutes(app: App): Routes {
  return {
    '/push/key': { GET: () => ({ status: 200, body: JSON.stringify(pushKey(app)), headers: [['Content-Type', 'application/json'], ['Cache-Control', 'no-cache']] }) },
  };
}

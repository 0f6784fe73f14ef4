// GET /exports/:id: an export's zip, to the user who asked for it, once, before it expires; then it is gone.
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { App } from '../context.ts';
import type { Routes } from '../transport/http.ts';
import { signedIn } from '../files/records.ts';
import { zipPath } from './build.ts';

const idPattern = /^[0-9a-f]{32}$/;

export function exportRoutes(app: App): Routes {
  return {
    '/exports/:id': {
      async GET(request) {
        const signed = await signedIn(app, request);
        if ('refuse' in signed) return signed.refuse;
        const { user } = signed;
        const id = request.params.id!;
        // Not theirs, not ready, taken already, expired, or no such export: all look the same.
        const size = idPattern.test(id) ? await app.commit.run(({ store }) => store.exports.take(id, user.id, app.now())) : undefined;
        if (size === undefined) return { status: 404, body: 'export not found' };
        const path = zipPath(app.settings.FILES_DIR, id);
        const stream = createReadStream(path);
        stream.once('close', () => void rm(path, { force: true }));
        app.log.info('export downloaded', { export: id, user: user.username, size, ip: request.ip });
        return {
          status: 200,
          body: { size, stream },
          headers: [['Content-Type', 'application/zip'], ['Content-Disposition', `attachment; filename="parley-export-${id}.zip"`], ['Cache-Control', 'no-store'], ['X-Content-Type-Options', 'nosniff']],
        };
      },
    },
  };
}

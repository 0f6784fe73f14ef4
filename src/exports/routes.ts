// GET /exports/:id: an export's zip, to the user who asked for it, once, before it expires; then it is gone.
import { open, rm } from 'node:fs/promises';
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
        if (!idPattern.test(id)) return { status: 404, body: 'export not found' };
        // Opened before it is taken: a zip this node cannot see (FILES_DIR not shared with the node that built it) is not spent.
        const path = zipPath(app.settings.FILES_DIR, id);
        const file = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
          return undefined;
        });
        if (!file) {
          // Their export, ready, and no zip here: the node is set up wrong, which they cannot mend by asking again.
          if ((await app.commit.run(({ store }) => store.exports.takeable(id, user.id, app.now()))) === undefined) return { status: 404, body: 'export not found' };
          app.log.error('export zip missing on this node: every node needs the same FILES_DIR', { export: id, files_dir: app.settings.FILES_DIR });
          return { status: 503, body: 'this export cannot be read here now: try again later' };
        }
        // Not theirs, not ready, taken already, expired, or no such export: all look the same.
        const size = await app.commit.run(({ store }) => store.exports.take(id, user.id, app.now()));
        if (size === undefined) {
          await file.close();
          return { status: 404, body: 'export not found' };
        }
        const stream = file.createReadStream();
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

// Builds protocol/dist/parley-client.js, the client as one dependency-free ES module for a plain
// `<script type="module">`: `npm run client:build`. test/client-build.test.ts fails when it is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const bundlePath = fileURLToPath(new URL('./dist/parley-client.js', import.meta.url));

/** The bundle's text, as `npm run client:build` writes it. */
export async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./connect.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    legalComments: 'none',
    banner: { js: '// Parley client: one ES module, no dependencies. Generated from protocol/connect.ts by `npm run client:build`; do not edit.' },
  });
  return result.outputFiles[0]!.text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(bundlePath, await bundleClient());
  console.log('wrote protocol/dist/parley-client.js');
}

// Builds the operator console (console/) into dist/console: one script and one stylesheet,
// bundled with their libraries (Preact, uPlot) by esbuild, so the page needs no CDN and works
// offline, and the gateway serves it under a CSP that allows nothing inline.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'console');

export async function buildConsole() {
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(root, 'console', 'src', 'main.tsx')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outfile: join(out, 'app.js'),
    legalComments: 'none',
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'console', 'index.html'), join(out, 'index.html'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildConsole();
}

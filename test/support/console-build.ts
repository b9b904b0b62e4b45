import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Builds dist/console (the console's page, script and styles) as `npm run build` does. */
export function buildConsole(): void {
  const built = spawnSync(process.execPath, [resolve(__dirname, '../../scripts/build-console.mjs')], {
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`console build failed: ${built.stderr}`);
}

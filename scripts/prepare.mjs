// `npm install` / `npm ci` run this (the `prepare` script): it builds dist/ (and client/dist) once, so `npm start`
// and the token CLI start at once instead of compiling on every run. A production install
// (`npm ci --omit=dev`) has no compiler: the build is skipped and dist/ must come from a build
// made elsewhere (as the Dockerfile does). Without sources (the Docker dependency layer, or an
// installed package) there is nothing to build.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stderr.write(`smsgate prepare: ${line}\n`);

if (!existsSync(join(root, 'src')) || !existsSync(join(root, 'tsconfig.build.json'))) {
  say('no sources here; nothing to build');
  process.exit(0);
}
let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  say(
    existsSync(join(root, 'dist', 'main.js'))
      ? 'typescript is not installed (a production install); using the existing dist/'
      : 'typescript is not installed (a production install), so dist/ is not built: build it where the devDependencies are (npm run build)',
  );
  process.exit(0);
}
// The gateway, then the TypeScript client in client/ (client/dist), when its sources are here.
const projects = ['tsconfig.build.json', join('client', 'tsconfig.build.json')].filter((project) =>
  existsSync(join(root, project)),
);
for (const project of projects) {
  const build = spawnSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
// The package's bin runs as a command (`npx smsgate`, `./dist/cli.js`) even where npm did not link it
// afresh: an npx cache that linked an earlier checkout at this path does not set the mode again.
chmodSync(join(root, 'dist', 'cli.js'), 0o755);
// The operator console's page, script and styles (esbuild is a devDependency, like typescript).
const bundle = spawnSync(process.execPath, [join(root, 'scripts', 'build-console.mjs')], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(bundle.status ?? 1);

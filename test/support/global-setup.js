// Compiles the gateway once, into .build-test/ (beside dist/, so its relative paths to config/ and
// examples/ hold), for the tests that run it as real processes (crash recovery, cluster).
// A separate folder from dist/, so `npm start` in the CLI test never races this build.
const { execFileSync } = require('node:child_process');
const { resolve } = require('node:path');

module.exports = async function globalSetup() {
  const root = resolve(__dirname, '../..');
  execFileSync(
    process.execPath,
    [
      require.resolve('typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      resolve(root, '.build-test'),
    ],
    { cwd: root, stdio: 'inherit' },
  );
};

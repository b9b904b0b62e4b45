import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

// The cluster's drivers (ioredis, pg) load when a connection is made, not when the gateway starts:
// the embedded default (one node, SQLite, in-memory limiter) never holds them (~6 MB of resident
// memory). Checked on the build test/support/global-setup.js made, in a process of its own, since
// Jest's module registry is not Node's.
const build = resolve(__dirname, '../../.build-test');

/** The cluster driver packages Node has loaded after running `script` (CommonJS, in a fresh node). */
function driversLoadedAfter(script: string): string[] {
  const probe = `${script}
    const drivers = new Set();
    for (const file of Object.keys(require.cache)) {
      const match = /node_modules\\/(ioredis|pg)\\//.exec(file);
      if (match) drivers.add(match[1]);
    }
    console.log(JSON.stringify([...drivers].sort()));`;
  const run = spawnSync(process.execPath, ['-e', probe], { cwd: build, encoding: 'utf8', timeout: 15_000 });
  if (run.status !== 0) throw new Error(`probe failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as string[];
}

describe('cluster drivers', () => {
  it('are not loaded by the gateway itself', () => {
    expect(driversLoadedAfter(`require(${JSON.stringify(join(build, 'server.js'))});`)).toEqual([]);
  });

  it('load ioredis on the first Redis connection', () => {
    const connect = `
      const { connectRedis } = require(${JSON.stringify(join(build, 'redis', 'index.js'))});
      connectRedis('redis://127.0.0.1:6379', { lazyConnect: true }).disconnect();`;
    expect(driversLoadedAfter(connect)).toEqual(['ioredis']);
  });
});

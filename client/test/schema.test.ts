import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGatewayForClient, type RunningGatewayProcess } from './support/gateway-process';

// The client's types are generated from the gateway's OpenAPI document and committed
// (client/src/schema.ts). A route changed without regenerating them fails here, so `npm test` fails.
const root = resolve(__dirname, '../..');
const generator = join(root, 'client', 'scripts', 'generate-schema.mjs');

function runGenerator(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [generator, ...args], { cwd: root }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('client/src/schema.ts and the live /openapi.json', () => {
  let gw: RunningGatewayProcess;
  beforeAll(async () => {
    gw = await startGatewayForClient();
  }, 60_000);
  afterAll(() => gw?.stop());

  it('the committed types are exactly what the running gateway’s document generates', async () => {
    const check = await runGenerator(['--check', '--from', `${gw.url}/openapi.json`]);
    expect(check.stderr).toBe('');
    expect(check).toMatchObject({ code: 0, stdout: 'client/src/schema.ts matches the document\n' });
  }, 60_000);

  it('a route the types do not know (the document changed, the types not regenerated) fails the check', async () => {
    const document = (await (await fetch(`${gw.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    document.paths['/v1/messages/{id}/cancel'] = {
      post: {
        summary: 'A route added without regenerating the client',
        responses: { 204: { description: 'Cancelled' } },
      },
    };
    const file = join(mkdtempSync(join(tmpdir(), 'smsgate-schema-')), 'openapi.json');
    writeFileSync(file, JSON.stringify(document));
    const check = await runGenerator(['--check', '--from', file]);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain("client/src/schema.ts is out of date with the gateway's /openapi.json");
    expect(check.stderr).toContain('npm run client:schema');
  }, 60_000);
});

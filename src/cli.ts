#!/usr/bin/env node
// The package's command (`bin`): `npx smsgate token --tenant ID …` (or `npm run -s token -- …`).
// It prints exactly one JWT on stdout and nothing else, so `TOKEN=$(npx smsgate token …)` works;
// problems go to stderr with a non-zero exit. The gateway itself starts with `node dist/main.js`
// (or `npm start`), which receives signals directly.
// The command itself, not the auth module's index: the index also loads passport, jwks-rsa and
// Express for the gateway, which would double the time a token takes to mint.
import { mintFromCommandLine } from './auth/token-cli';

const usage = 'usage: smsgate token --tenant ID [--scope "sms:send sms:read"] [--ttl 15m] [--sub SUBJECT]\n';

function main(args: string[]): number {
  const [command, ...rest] = args;
  if (command === 'token') {
    try {
      process.stdout.write(`${mintFromCommandLine(rest)}\n`);
      return 0;
    } catch (error) {
      process.stderr.write(`token: ${(error as Error).message}\n`);
      return 1;
    }
  }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(usage);
    return command === undefined ? 1 : 0;
  }
  process.stderr.write(`smsgate: unknown command '${command}'\n${usage}`);
  return 1;
}

process.exitCode = main(process.argv.slice(2));

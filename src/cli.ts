#!/usr/bin/env node
// The package's command (`bin`): `npx smsgate <command> …` (or `npm run -s smsgate -- <command> …`).
// `token` prints exactly one JWT on stdout and nothing else, so `TOKEN=$(npx smsgate token …)` works;
// problems go to stderr with a non-zero exit. The gateway itself starts with
// `node --max-semi-space-size=4 dist/main.js` (or `npm start`), which receives signals directly.
// Each command loads only what it needs, when it runs: the token and config commands load the
// config schema (zod, yaml); the HTTP commands load nothing but their own file (fetch is built in).
// Files, not the modules' indexes: the auth index would load passport, jwks-rsa and Express.

const usage = `usage: smsgate <command> [options]

  token --tenant ID [--scope "sms:send sms:read"] [--ttl 15m] [--sub SUBJECT]
                     mint a JWT (needs the JWT secret and the tenants; never the APPKEY)
  send --to NUMBER [--to NUMBER…] --text TEXT [--from SENDER] [--reference REF]
  messages [--tenant T] [--status S] [--last DIGITS] [--reference R] [--from ISO] [--to ISO] [--page N]
  tail [--tenant T]  every tenant's events as they happen, until Ctrl-C
  usage              every tenant's quotas and request rate (or the token's own tenant's)
  config check [FILE]
                     validate a config file and print what the gateway would run with, secrets masked

  send, messages, tail and usage talk to a running gateway: --url (or SMSGATE_URL, default
  http://127.0.0.1:8080) and --token (or SMSGATE_TOKEN; messages, tail and usage need the admin
  scope, send needs sms:send). Add --json for machine-readable output.
`;

const write = (line: string) => process.stdout.write(`${line}\n`);

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case 'token': {
        const { mintFromCommandLine } = await import('./auth/token-cli.js');
        write(mintFromCommandLine(rest));
        return 0;
      }
      case 'config': {
        if (rest[0] !== 'check') throw new Error(`config: expected 'config check [FILE]'`);
        const { configCheck } = await import('./operator/config-check.js');
        process.stdout.write(configCheck(rest.slice(1), process.env));
        return 0;
      }
      case 'send':
      case 'messages':
      case 'usage':
      case 'tail': {
        const { messagesCommand, sendCommand, tailCommand, usageCommand } =
          await import('./operator/commands.js');
        if (command === 'tail') {
          const stop = new AbortController();
          process.once('SIGINT', () => stop.abort());
          process.once('SIGTERM', () => stop.abort());
          await tailCommand(rest, process.env, write, stop.signal);
          return 0;
        }
        const run = { send: sendCommand, messages: messagesCommand, usage: usageCommand }[command];
        await run(rest, process.env, write);
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(usage);
        return command === undefined ? 1 : 0;
      default:
        process.stderr.write(`smsgate: unknown command '${command}'\n${usage}`);
        return 1;
    }
  } catch (error) {
    process.stderr.write(`${command}: ${(error as Error).message}\n`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

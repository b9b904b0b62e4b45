// The operator commands of the `smsgate` CLI: send, messages, tail, usage (over HTTP, with a token)
// and config check (local). Loaded only when one of them runs, so `smsgate token` stays as fast.
export { sendCommand, messagesCommand, tailCommand, usageCommand } from './commands';
export { configCheck, masked } from './config-check';
export { CommandError } from './client';

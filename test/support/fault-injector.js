// Preloaded into a gateway process (NODE_OPTIONS=--require) by the fatal-error test: on SIGUSR2
// it raises the bug a handler forgot to catch, carrying the APPKEY in its message, as an
// unhandled rejection or an uncaught exception (INJECT_FAULT=rejection|exception).
const kind = process.env.INJECT_FAULT;
process.on('SIGUSR2', () => {
  const error = new Error(`injected fault; the key was ${process.env.SMSGATE_APPKEY}`);
  if (kind === 'rejection') void Promise.reject(error);
  else
    setImmediate(() => {
      throw error;
    });
});

// Every test file records what the gateway logged and answered; after the file, nothing may
// contain the provider APPKEY (the suite-wide check of "the secret never leaks").
import { TEST_APPKEY, TEST_CALLBACK_TOKEN, TEST_WEBHOOK_SECRETS } from './constants';

const neverShown = [TEST_APPKEY, ...Object.values(TEST_WEBHOOK_SECRETS)];

export const captured = { logLines: [] as string[], responses: [] as string[] };

afterAll(() => {
  const leakedLogs = captured.logLines.filter((line) =>
    [...neverShown, TEST_CALLBACK_TOKEN].some((secret) => line.includes(secret)),
  );
  const leakedResponses = captured.responses.filter((text) =>
    neverShown.some((secret) => text.includes(secret)),
  );
  expect({ leakedLogs, leakedResponses }).toEqual({ leakedLogs: [], leakedResponses: [] });
});

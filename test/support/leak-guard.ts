// Every test file records what the gateway logged and answered; after the file, nothing may
// contain the provider APPKEY (the suite-wide check of "the secret never leaks").
import { TEST_APPKEY, TEST_CALLBACK_TOKEN } from './constants';

export const captured = { logLines: [] as string[], responses: [] as string[] };

afterAll(() => {
  const leakedLogs = captured.logLines.filter(
    (line) => line.includes(TEST_APPKEY) || line.includes(TEST_CALLBACK_TOKEN),
  );
  const leakedResponses = captured.responses.filter((text) => text.includes(TEST_APPKEY));
  expect({ leakedLogs, leakedResponses }).toEqual({ leakedLogs: [], leakedResponses: [] });
});

// Every test file records what the gateway logged and answered; after the file, nothing may
// contain the provider APPKEY or another secret, no log line a full phone number, and every JSON
// answer must match the OpenAPI document (the suite-wide checks of "the secret never leaks",
// "numbers are masked to their last 3 digits" and "responses follow /openapi.json").
import { TEST_APPKEY, TEST_CALLBACK_TOKEN, TEST_WEBHOOK_SECRETS } from './constants';
import { createResponseValidator, type CapturedResponse } from './openapi';

const neverShown = [TEST_APPKEY, ...Object.values(TEST_WEBHOOK_SECRETS)];
/** AU and NZ mobiles as the tests use them: +61 4…, 61 4…, 04…, +64 2… — unmasked. */
const fullNumber = /(?<![\d*])(?:\+?614\d{8}|04\d{8}|\+?642\d{7,9})(?!\d)/;
/** Request ids are UUIDs, logged whole: a run of digits in one is not a number (see maskPhoneNumbers). */
const uuid = /(?<![0-9a-f-])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f-])/gi;

export const captured = {
  logLines: [] as string[],
  responses: [] as string[],
  /** Every JSON answer of every in-process gateway, checked against /openapi.json after the file. */
  exchanges: [] as CapturedResponse[],
};

afterAll(() => {
  const leakedLogs = captured.logLines.filter((line) =>
    [...neverShown, TEST_CALLBACK_TOKEN].some((secret) => line.includes(secret)),
  );
  const leakedResponses = captured.responses.filter((text) =>
    neverShown.some((secret) => text.includes(secret)),
  );
  const numbersInLogs = captured.logLines.filter((line) => fullNumber.test(line.replace(uuid, ' uuid ')));
  const problemsOf = createResponseValidator();
  const offContract = [
    ...new Set(captured.exchanges.map(problemsOf).filter((problem): problem is string => !!problem)),
  ];
  expect({ leakedLogs, leakedResponses, numbersInLogs, offContract }).toEqual({
    leakedLogs: [],
    leakedResponses: [],
    numbersInLogs: [],
    offContract: [],
  });
});

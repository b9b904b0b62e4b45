// The error codes of the API contract (docs/api.md, "Error codes") and their HTTP statuses.
// Errors are values: code + a description that names the field or resource at fault.

export const errorStatus = {
  AUTH_FAILED: 401,
  FORBIDDEN: 403,
  HTTPS_REQUIRED: 403,
  FIELD_EMPTY: 400,
  FIELD_INVALID: 400,
  RECIPIENTS_ERROR: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  IDEMPOTENCY_MISMATCH: 422,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  OVER_LIMIT: 429,
  UPSTREAM_ERROR: 502,
  UPSTREAM_UNAVAILABLE: 503,
  UPSTREAM_TIMEOUT: 504,
  INTERNAL_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/**
 * An answer, not a fault: a refusal (4xx) carries no stack. Capturing one costs more than the rest
 * of a 429 answer, and a flooding tenant can ask for thousands a second; nobody reads their stacks
 * (the error handler logs only unexpected errors). A 5xx ApiError keeps its stack.
 */
export class ApiError extends Error {
  readonly status: number;
  /** Extra response headers, e.g. Retry-After on OVER_LIMIT. */
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    readonly description: string,
    headers: Record<string, string> = {},
  ) {
    const refusal = errorStatus[code] < 500;
    const limit = Error.stackTraceLimit;
    if (refusal) Error.stackTraceLimit = 0;
    super(`${code}: ${description}`);
    if (refusal) Error.stackTraceLimit = limit;
    this.name = 'ApiError';
    this.status = errorStatus[code];
    this.headers = headers;
  }
}

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError;
}

import { ApiError } from '../http';

/** Why a provider call failed, which decides whether it may be retried and what the client is told. */
export type UpstreamFailureKind =
  /** The provider answered with an error: the call was processed and refused. */
  | 'rejected'
  /** HTTP 429 / OVER_LIMIT: not processed, safe to retry with a fresh slot. */
  | 'throttled'
  /** No connection could be made: not sent. */
  | 'unavailable'
  /** No answer in time, or the connection dropped mid-call: the outcome is unknown. */
  | 'timeout'
  /**
   * The call's budget slot was older than the window margin when its request was about to be
   * written: not sent (nothing was written), and the budget gives it a fresh slot.
   */
  | 'stale';

export class UpstreamError extends ApiError {
  constructor(
    readonly kind: UpstreamFailureKind,
    description: string,
    /** The provider's own HTTP status and `meta.status`, when it answered. */
    readonly provider?: { httpStatus: number; status: string },
    headers: Record<string, string> = {},
  ) {
    super(
      kind === 'timeout'
        ? 'UPSTREAM_TIMEOUT'
        : kind === 'rejected'
          ? 'UPSTREAM_ERROR'
          : 'UPSTREAM_UNAVAILABLE',
      description,
      headers,
    );
    this.name = 'UpstreamError';
  }
}

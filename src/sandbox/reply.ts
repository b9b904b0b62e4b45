// The provider's answers and the sandbox's record of every call it answered.
import type { Request, Response } from 'express';
import type { SandboxState } from './state';

/** A provider answer: HTTP status, the `meta.status` code, `msg` and `data`, as Cellcast v3 shapes them. */
export class ProviderReply {
  constructor(
    readonly httpStatus: number,
    readonly metaStatus: string,
    readonly msg: string,
    readonly data: unknown = [],
    readonly extra: Record<string, unknown> = {},
  ) {}

  body(): Record<string, unknown> {
    return {
      meta: { code: this.httpStatus, status: this.metaStatus },
      msg: this.msg,
      data: this.data,
      ...this.extra,
    };
  }
}

export const fieldEmpty = (msg: string) => new ProviderReply(400, 'FIELD_EMPTY', msg);
export const fieldInvalid = (msg: string) => new ProviderReply(400, 'FIELD_INVALID', msg);

/** Records the call, then answers it. */
export function reply(state: SandboxState, req: Request, res: Response, answer: ProviderReply): void {
  recordCall(state, req, answer.httpStatus, answer.metaStatus);
  res.status(answer.httpStatus).json(answer.body());
}

export function recordCall(state: SandboxState, req: Request, status: number, metaStatus: string): void {
  trimRecords(state);
  state.calls.push({
    at: state.clock.now(),
    method: req.method,
    endpoint: req.path.replace(/^\/api\/v3\//, '').replace(/^\//, ''),
    appKey: req.header('APPKEY'),
    authorization: req.header('Authorization'),
    query: { ...req.query },
    body: req.body as unknown,
    status,
    metaStatus,
  });
}

// A long-running sandbox (npm start) must not grow without bound.
function trimRecords(state: SandboxState): void {
  const maxRecords = state.options.maxRecords ?? 10_000;
  const { calls, sent } = state;
  if (calls.length > maxRecords) calls.splice(0, calls.length - maxRecords);
  for (const id of sent.keys()) {
    if (sent.size <= maxRecords * 10) break;
    sent.delete(id);
  }
}

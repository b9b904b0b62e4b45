// What stands before every provider endpoint, in order: injected faults, the APPKEY check and the
// 15-calls-a-second throttle.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { equalsConstantTime } from '../security';
import { ProviderReply, recordCall, reply } from './reply';
import type { SandboxState } from './state';

export function providerGuards(state: SandboxState): RequestHandler[] {
  return [applyFaults(state), authenticate(state), throttle(state)];
}

function applyFaults(state: SandboxState): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const { faults } = state;
    if (faults.hang) {
      recordCall(state, req, 0, 'HANG');
      return;
    }
    if (faults.resetRate > 0 && state.random() < faults.resetRate) {
      recordCall(state, req, 0, 'RESET');
      req.socket.resetAndDestroy();
      return;
    }
    const proceed = () => {
      if (state.faults.respondWith) {
        const { httpStatus, status, msg, headers, times } = state.faults.respondWith;
        if (times !== undefined)
          state.faults.respondWith = times > 1 ? { ...state.faults.respondWith, times: times - 1 } : null;
        res.set(headers ?? {});
        reply(state, req, res, new ProviderReply(httpStatus, status, msg));
        return;
      }
      if (state.faults.errorRate > 0 && state.random() < state.faults.errorRate) {
        reply(state, req, res, new ProviderReply(500, 'SERVER_ERROR', 'Internal Server Error'));
        return;
      }
      if (state.faults.answerDelayMs > 0) holdAnswer(res, state.faults.answerDelayMs);
      next();
    };
    if (faults.latencyMs > 0) setTimeout(proceed, faults.latencyMs);
    else proceed();
  };
}

/** Every answer goes through res.send (res.json included): sent late, after the work is done. */
function holdAnswer(res: Response, delayMs: number): void {
  const send = res.send.bind(res);
  res.send = (body?: unknown) => {
    setTimeout(() => send(body), delayMs);
    return res;
  };
}

function authenticate(state: SandboxState): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const presented = presentedKey(state, req);
    if (presented === undefined) {
      reply(state, req, res, new ProviderReply(401, 'AUTH_FAILED_NO_DATA', 'APPKEY header is missing'));
    } else if (!isAccountKey(state, presented)) {
      reply(state, req, res, new ProviderReply(401, 'AUTH_FAILED', 'APPKEY you have provided is invalid'));
    } else {
      res.locals.appKey = presented;
      next();
    }
  };
}

function presentedKey(state: SandboxState, req: Request): string | undefined {
  const header = req.header('APPKEY');
  if (header) return header;
  return state.options.acceptBasicAuth ? basicUser(req.header('Authorization')) : undefined;
}

export function isAccountKey(state: SandboxState, key: string | undefined): boolean {
  return key !== undefined && state.options.appKeys.some((k) => equalsConstantTime(k, key));
}

/** The user part of HTTP Basic credentials, where the APPKEY goes in `basic` auth mode. */
export function basicUser(authorization: string | undefined): string | undefined {
  if (!authorization?.startsWith('Basic ')) return undefined;
  return Buffer.from(authorization.slice(6), 'base64').toString('utf8').split(':')[0] || undefined;
}

// A sliding log per key: the 16th call inside any rolling second is refused. Only admitted
// calls enter the log (a refused call is not processed, so it uses no capacity).
function throttle(state: SandboxState): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const key = res.locals.appKey as string;
    const now = state.clock.now();
    const log = (state.admitted.get(key) ?? []).filter((at) => at > now - 1000);
    if (log.length >= state.callsPerSecond) {
      state.admitted.set(key, log);
      reply(
        state,
        req,
        res,
        new ProviderReply(429, 'OVER_LIMIT', 'You have exceeded the limit of API calls per second'),
      );
      return;
    }
    log.push(now);
    state.admitted.set(key, log);
    next();
  };
}

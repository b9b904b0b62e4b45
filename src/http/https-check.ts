import type { RequestHandler } from 'express';
import { isLoopback } from '../security';
import { ApiError } from './errors';

/**
 * HTTPS only, as the contract says: a plain-HTTP request that did not arrive over TLS or through
 * a trusted proxy saying https gets 403 HTTPS_REQUIRED. Loopback callers are exempt in sandbox
 * mode, and the probes (/healthz, /readyz) are exempt because orchestrators call them in plain HTTP.
 */
export function requireHttps(options: { enabled: boolean; sandbox: boolean }): RequestHandler {
  return (req, _res, next) => {
    if (!options.enabled || req.secure || req.path === '/healthz' || req.path === '/readyz') return next();
    if (options.sandbox && isLoopback(req.socket.remoteAddress)) return next();
    next(
      new ApiError(
        'HTTPS_REQUIRED',
        'this gateway accepts HTTPS only; use https:// (or a TLS proxy it trusts)',
      ),
    );
  };
}

import { Router } from 'express';
import { sendSuccess } from './envelope';
import { ApiError } from './errors';
import { setAccessLogLevel } from './request-context';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/** /healthz: the process is alive. /readyz: every dependency answers and we are not shutting down. */
export function healthRouter(checks: ReadinessCheck[], isShuttingDown: () => boolean): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => sendSuccess(res, 200, { status: 'ok' }));
  router.get('/readyz', async (_req, res) => {
    if (isShuttingDown()) {
      // Expected while draining: it is how the load balancer learns to route elsewhere.
      setAccessLogLevel(res, 'info');
      throw new ApiError('UPSTREAM_UNAVAILABLE', 'readiness: shutting down');
    }
    for (const { name, check } of checks) {
      try {
        await check();
      } catch {
        setAccessLogLevel(res, 'warn');
        throw new ApiError('UPSTREAM_UNAVAILABLE', `readiness: ${name} is not available`);
      }
    }
    sendSuccess(res, 200, { status: 'ready' });
  });
  return router;
}

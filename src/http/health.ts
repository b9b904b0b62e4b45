import { z } from 'zod';
import { jsonResponse, successSchema } from './contract';
import { sendSuccess } from './envelope';
import { ApiError } from './errors';
import type { RouteDefinition } from './routes';
import { setAccessLogLevel } from './request-context';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/** /healthz: the process is alive. /readyz: every dependency answers and we are not shutting down. */
export function healthRoutes(checks: ReadinessCheck[], isShuttingDown: () => boolean): RouteDefinition[] {
  return [
    {
      method: 'get',
      path: '/healthz',
      access: 'public',
      summary: 'Liveness',
      tags: ['operations'],
      responses: { 200: jsonResponse(successSchema(z.object({ status: z.literal('ok') }))) },
      handler: (_req, res) => sendSuccess(res, 200, { status: 'ok' }),
    },
    {
      method: 'get',
      path: '/readyz',
      access: 'public',
      summary: 'Readiness (store, not shutting down)',
      tags: ['operations'],
      responses: { 200: jsonResponse(successSchema(z.object({ status: z.literal('ready') }))) },
      handler: async (_req, res) => {
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
      },
    },
  ];
}

import type { RequestHandler } from 'express';
import { ApiError } from './errors';

/** Routes that take JSON refuse any other body type with 415 before doing any work. */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (req.is('application/json')) next();
  else
    next(
      new ApiError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Content-Type: expected application/json, got '${(req.headers['content-type'] ?? 'none').slice(0, 60)}'`,
      ),
    );
};

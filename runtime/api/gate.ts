import type { RequestHandler } from 'express';
import { Errors } from '../errors';
import { sendProblem } from './problem';

/** The launcher's state: it serves everything only while `running`. */
export type ServingState = 'starting' | 'running' | 'stopping';

/**
 * While the server starts or stops, answer 503 (FF_UNAVAILABLE, with Retry-After) to everything but
 * the paths `open` accepts (health and metrics), so probes get answers from the first moment the
 * port is open while users and devices wait for a server that runs.
 */
export function servingGate(state: () => ServingState, open: (path: string) => boolean): RequestHandler {
  return (req, res, next) => {
    const now = state();
    if (now === 'running' || open(req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path)) return next();
    const detail = now === 'starting' ? 'Fieldflow is starting; try again in a few seconds' : 'Fieldflow is stopping; try again once it has restarted';
    sendProblem(res, Errors.UNAVAILABLE(detail, { headers: { 'Retry-After': '5' } }), req.originalUrl.split('?')[0]);
  };
}

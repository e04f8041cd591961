import type { ErrorRequestHandler, Response } from 'express';
import { Errors, FieldflowError, isFieldflowError } from '../errors';
import type { Logger } from '../log';

export const PROBLEM_TYPE_BASE = '/api/v1/errors#';

/**
 * Write an error as RFC 9457 problem+json, with the catalog code.
 * @param extensions extra members of the problem (RFC 9457 section 3.2), such as failing checks.
 */
export function sendProblem(res: Response, err: FieldflowError, instance?: string, extensions: Record<string, unknown> = {}): void {
  for (const [name, value] of Object.entries(err.headers ?? {})) res.setHeader(name, value);
  // For whoever counts outcomes once the response is sent (ingestion metrics).
  res.locals.problemCode = err.code;
  const body: Record<string, unknown> = {
    ...extensions,
    type: PROBLEM_TYPE_BASE + err.code,
    title: err.title,
    status: err.status,
    detail: err.message,
    code: err.code,
  };
  if (instance) body.instance = instance;
  if (err.errors) body.errors = err.errors;
  res.status(err.status).type('application/problem+json').send(JSON.stringify(body));
}

/** Errors thrown by body-parser carry a `type`; map them to catalog errors. */
function fromBodyParser(err: { type?: string; status?: number; limit?: number; length?: number; message?: string }): FieldflowError | null {
  switch (err.type) {
    case 'entity.too.large':
      return Errors.PAYLOAD_TOO_LARGE(`Body is over the ${err.limit}-byte limit`);
    case 'entity.parse.failed':
      return Errors.MALFORMED_JSON('Body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return Errors.UNSUPPORTED_MEDIA_TYPE(err.message);
    case 'request.aborted':
    case 'request.size.invalid':
      return Errors.MALFORMED_JSON('Body was incomplete');
    default:
      // Other client errors from express or body-parser (a malformed URL escape, a corrupt gzip body).
      return err.status !== undefined && err.status >= 400 && err.status < 500 ? Errors.BAD_REQUEST(err.message) : null;
  }
}

/** The one express error handler: every error leaves as problem+json; unknown ones are logged. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    let problem = isFieldflowError(err) ? err : fromBodyParser(err);
    if (!problem) {
      log.error('unhandled API error', { method: req.method, path: req.path, error: (err as Error)?.message });
      problem = Errors.INTERNAL('The server failed to handle this request');
    }
    sendProblem(res, problem, req.originalUrl.split('?')[0]);
  };
}

import type { Request, Response } from 'express';
import type { NodeAPI } from 'node-red';
import { Errors, isFieldflowError } from '../../runtime/errors';

/** What an admin route handler returns: the status and the JSON body (none for 204). */
export type AdminHandler = (req: Request) => Promise<[number, unknown]> | [number, unknown];

/** Sidebar lists show at most this many items. */
export const MAX_LIST_LIMIT = 200;

/**
 * An express handler for a sidebar's admin route: the handler's result, or a catalog error as
 * `{code, detail, errors}` with its status; anything else is logged and answered as FF_INTERNAL.
 */
export function adminRoute(RED: NodeAPI, what: string, handler: AdminHandler) {
  return (req: Request, res: Response) => {
    Promise.resolve()
      .then(() => handler(req))
      .then(
        ([status, body]) => (status === 204 ? res.status(204).end() : res.status(status).json(body)),
        (err: Error) => {
          if (res.headersSent) return;
          if (isFieldflowError(err) && err.status < 500) {
            res.status(err.status).json({ code: err.code, detail: err.message, errors: err.errors ?? [] });
          } else {
            RED.log.error(`${what} admin route ${req.method} ${req.path} failed: ${err.message}`);
            res.status(500).json({ code: Errors.INTERNAL.code, detail: 'The request failed; the server log has the reason', errors: [] });
          }
        },
      );
  };
}

/** `?status=a,b&limit=50`: statuses from `allowed`, limit 1-200 (default 50). */
export function statusQuery<S extends string>(query: Request['query'], allowed: readonly S[]): { status: S[] | undefined; limit: number } {
  const errors: Array<{ path: string; message: string }> = [];
  let status: S[] | undefined;
  if (query.status !== undefined) {
    status = String(query.status).split(',') as S[];
    if (status.some((s) => !allowed.includes(s))) errors.push({ path: '/status', message: `must be a comma-separated list of ${allowed.join(', ')}` });
  }
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) errors.push({ path: '/limit', message: `must be an integer from 1 to ${MAX_LIST_LIMIT}` });
  if (errors.length) throw Errors.INVALID_QUERY(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  return { status, limit };
}

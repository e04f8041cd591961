import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Errors } from '../errors';
import type { Platform } from '../index';
import { DEVICE_TOKEN_PREFIX } from '../devices/tokens';

export type Principal = { kind: 'user'; username: string } | { kind: 'device'; deviceId: string };

export function bearerToken(req: Request): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw Errors.AUTH_INVALID('Authorization must be "Bearer <token>"');
  return m[1];
}

/** A user token is required. */
export function requireUser(platform: Platform): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    try {
      const token = bearerToken(req);
      if (!token) throw Errors.AUTH_REQUIRED('Send "Authorization: Bearer <token>"; get a token from POST /api/v1/auth/token');
      const user = platform.auth.verifyToken(token);
      if (!user) {
        if (token.startsWith(DEVICE_TOKEN_PREFIX)) throw Errors.FORBIDDEN('A device token can only publish messages for its own device');
        throw Errors.AUTH_INVALID('Token is unknown, revoked or expired');
      }
      res.locals.principal = { kind: 'user', username: user.username } satisfies Principal;
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** A user token, or the token of the device named by the `:id` path parameter. */
export function requireUserOrDevice(platform: Platform): RequestHandler {
  const asUser = requireUser(platform);
  return (req: Request, res: Response, next: NextFunction) => {
    let token: string | null;
    try {
      token = bearerToken(req);
    } catch (err) {
      return next(err);
    }
    if (!token || !token.startsWith(DEVICE_TOKEN_PREFIX)) return asUser(req, res, next);
    const device = platform.devices.authenticate(req.params.id, token);
    // Wrong token, other device's token, or unknown device: all look the same from outside.
    if (!device) return next(Errors.AUTH_INVALID('Device token is not valid for this device'));
    res.locals.principal = { kind: 'device', deviceId: device.id } satisfies Principal;
    next();
  };
}

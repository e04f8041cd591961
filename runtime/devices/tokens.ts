import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Device credentials. A token is 32 random bytes, so a fast hash is enough to store it safely
 * (a slow password hash only matters for guessable secrets) and verification stays cheap on the
 * connect and HTTP-ingest paths.
 */
export const DEVICE_TOKEN_PREFIX = 'ffd_';

export function newToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented token with a stored hash. */
export function tokenMatches(token: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { Errors } from '../errors';
import type { Collection, Store } from '../store';
import type { PlatformOptions } from '../options';
import type { Logger } from '../log';
import { hashToken, newToken } from '../devices/tokens';
import { ADDRESS_FAILURE_FACTOR, FailureLimiter, addressKey, loginKey } from './rate-limit';

export const ADMIN_USERNAME = 'admin';
export const USER_TOKEN_PREFIX = 'ffu_';

export interface User {
  username: string;
  permissions: '*';
}

interface UserDoc {
  _id: string;
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
}

/** Who a session token was issued to: the REST API, or a Node-RED admin client (the editor, node-red-admin). */
export type TokenClient = 'api' | 'node-red-editor' | 'node-red-admin';

interface TokenDoc {
  _id: string;
  username: string;
  /** Absent on tokens issued before editor sessions were stored here: those are API tokens. */
  client?: TokenClient;
  /** The user's `updatedAt` when the token was issued: a token from before a password change is void. */
  passwordSetAt?: number;
  createdAt: number;
  expiresAt: number;
}

export interface IssuedToken {
  token: string;
  expiresAt: number;
}

/**
 * Users and their session tokens: REST API tokens and the editor's sessions alike. Passwords are
 * stored as bcrypt hashes, tokens as SHA-256 hashes (they are random, so a fast hash is safe);
 * neither is ever stored or logged in clear. A password change revokes every session of the user.
 * The Node-RED editor logs in through the same limiter and gets the same tokens (see
 * runtime/editor/auth-routes.ts and settings.ts).
 */
export class AuthService {
  private users!: Collection<UserDoc>;
  private tokens!: Collection<TokenDoc>;
  private readonly userCache = new Map<string, UserDoc>();
  private readonly tokenCache = new Map<string, TokenDoc>();
  private readonly limiter: FailureLimiter;
  private readonly addressLimiter: FailureLimiter;
  /** Compared against when the user does not exist, so timing does not reveal usernames. */
  private readonly dummyHash: string;

  constructor(
    private readonly options: PlatformOptions['auth'],
    private readonly now: () => number,
    private readonly log?: Logger,
  ) {
    this.limiter = new FailureLimiter(options.maxFailedLogins, options.loginWindowSeconds * 1000, now);
    this.addressLimiter = new FailureLimiter(options.maxFailedLogins * ADDRESS_FAILURE_FACTOR, options.loginWindowSeconds * 1000, now);
    this.dummyHash = bcrypt.hashSync(randomBytes(16).toString('hex'), options.bcryptRounds);
  }

  async start(store: Store): Promise<void> {
    this.users = await store.collection<UserDoc>('users');
    this.tokens = await store.collection<TokenDoc>('tokens');
    for (const u of await this.users.all()) this.userCache.set(u._id, u);
    const expired: string[] = [];
    for (const t of await this.tokens.all()) {
      if (t.expiresAt <= this.now()) expired.push(t._id);
      else this.tokenCache.set(t._id, t);
    }
    await this.tokens.removeMany(expired);
  }

  /**
   * Make sure the admin user exists. With a password from the environment, that password is the
   * admin's (it is re-hashed when it changes). Without one, a password is generated on the first
   * start only and returned so the launcher can print it once.
   */
  async ensureAdmin(): Promise<{ username: string; generatedPassword?: string }> {
    const existing = this.userCache.get(ADMIN_USERNAME);
    const fromEnv = this.options.adminPassword;
    if (fromEnv !== undefined && fromEnv !== '') {
      if (!existing || !(await bcrypt.compare(fromEnv, existing.passwordHash))) {
        await this.setPassword(ADMIN_USERNAME, fromEnv);
      }
      return { username: ADMIN_USERNAME };
    }
    if (existing) return { username: ADMIN_USERNAME };
    const generated = randomBytes(12).toString('base64url');
    await this.setPassword(ADMIN_USERNAME, generated);
    return { username: ADMIN_USERNAME, generatedPassword: generated };
  }

  /** Set a user's password. A change revokes every session the user has (API and editor). */
  async setPassword(username: string, password: string): Promise<void> {
    const t = this.now();
    const existing = this.userCache.get(username);
    const doc: UserDoc = {
      _id: username,
      passwordHash: await bcrypt.hash(password, this.options.bcryptRounds),
      createdAt: existing?.createdAt ?? t,
      updatedAt: t,
    };
    if (!existing) {
      await this.users.insert(doc);
      this.userCache.set(username, doc);
      return;
    }
    // In force at once for new logins; tokens issued under the old password stop working with the
    // change of updatedAt (verifyToken), even one whose login was finishing meanwhile.
    this.userCache.set(username, doc);
    try {
      await this.users.replace(doc);
    } catch (err) {
      this.userCache.set(username, existing);
      throw err;
    }
    const revoked = await this.revokeAll(username);
    if (revoked) this.log?.info('password changed: sessions revoked', { username, revoked });
  }

  getUser(username: string): User | null {
    return this.userCache.has(username) ? { username, permissions: '*' } : null;
  }

  async verifyPassword(username: string, password: string): Promise<User | null> {
    const doc = this.userCache.get(username);
    const ok = await bcrypt.compare(password, doc?.passwordHash ?? this.dummyHash);
    return ok && doc ? { username, permissions: '*' } : null;
  }

  /**
   * Exchange a username and password for a session token. `address` (the client's address) and the
   * username key the failed-attempt limit, so guesses from elsewhere never lock this client out.
   * Throws FF_TOO_MANY_ATTEMPTS (with Retry-After) or FF_AUTH_INVALID.
   */
  async login(username: string, password: string, address: string, client: TokenClient = 'api'): Promise<IssuedToken> {
    // Usernames that do not exist share one key per address, so making them up gains nothing.
    const key = loginKey(this.userCache.has(username) ? username : '\u0002unknown', address);
    const wide = addressKey(address);
    const wait = Math.max(this.limiter.retryAfter(key), this.addressLimiter.retryAfter(wide));
    if (wait > 0) {
      throw Errors.TOO_MANY_ATTEMPTS(`Too many failed logins; try again in ${wait} s`, { headers: { 'Retry-After': String(wait) } });
    }
    // Count the attempt before the (slow) password check, so concurrent guesses cannot all pass the limit.
    if (this.limiter.fail(key)) this.log?.warn('failed logins: locked for a while', { username: username.slice(0, 128), address, retryAfterSeconds: this.limiter.retryAfter(key) });
    if (this.addressLimiter.fail(wide)) this.log?.warn('failed logins from one address over many usernames: locked for a while', { address, retryAfterSeconds: this.addressLimiter.retryAfter(wide) });
    const checked = this.userCache.get(username);
    const user = await this.verifyPassword(username, password);
    // A password changed during the check: the old one no longer opens anything.
    if (!user || this.userCache.get(username) !== checked) throw Errors.AUTH_INVALID('Wrong username or password');
    this.limiter.succeed(key);
    this.addressLimiter.uncount(wide);
    await this.pruneExpired();
    const token = newToken(USER_TOKEN_PREFIX);
    const t = this.now();
    const doc: TokenDoc = { _id: hashToken(token), username, client, passwordSetAt: checked!.updatedAt, createdAt: t, expiresAt: t + this.options.userTokenTtlSeconds * 1000 };
    await this.tokens.insert(doc);
    this.tokenCache.set(doc._id, doc);
    return { token, expiresAt: doc.expiresAt };
  }

  /** How long a session token lasts, in seconds (the same for the API and the editor). */
  get tokenTtlSeconds(): number {
    return this.options.userTokenTtlSeconds;
  }

  /** The user a token belongs to, or null if it is unknown, revoked or expired. */
  verifyToken(token: string): User | null {
    if (!token.startsWith(USER_TOKEN_PREFIX)) return null;
    const hash = hashToken(token);
    const doc = this.tokenCache.get(hash);
    if (!doc) return null;
    const stale = doc.passwordSetAt !== undefined && doc.passwordSetAt !== this.userCache.get(doc.username)?.updatedAt;
    if (doc.expiresAt <= this.now() || stale) {
      this.tokenCache.delete(hash);
      void this.tokens.remove(hash).catch(() => undefined);
      return null;
    }
    return this.getUser(doc.username);
  }

  /** Forget expired tokens (done at each login, so the table cannot grow with dead entries). */
  private async pruneExpired(): Promise<void> {
    const expired = [...this.tokenCache.values()].filter((t) => t.expiresAt <= this.now()).map((t) => t._id);
    for (const id of expired) this.tokenCache.delete(id);
    await this.tokens.removeMany(expired);
  }

  async revokeToken(token: string): Promise<boolean> {
    const hash = hashToken(token);
    if (!this.tokenCache.delete(hash)) return false;
    await this.tokens.remove(hash);
    return true;
  }

  /** Revoke every session of a user (API tokens and editor sessions); resolves to how many there were. */
  async revokeAll(username: string): Promise<number> {
    const ids = [...this.tokenCache.values()].filter((t) => t.username === username).map((t) => t._id);
    // Out of the cache first (synchronously), so no request is let in while the write runs.
    for (const id of ids) this.tokenCache.delete(id);
    await this.tokens.removeMany(ids);
    return ids.length;
  }
}

import { FieldflowError, type FieldError } from '../errors';
import { ConnectionError, UsageError } from './errors';

/** Where the server is and who the CLI is there. */
export interface Connection {
  /** The server's base URL, such as http://localhost:1880. */
  url: string;
  /** An API token to use as it is (FIELDFLOW_TOKEN); otherwise the CLI logs in. */
  token?: string;
  user: string;
  password?: string;
}

/** A successful answer: its status and its JSON body (undefined when there is none). */
export interface Reply<T> {
  status: number;
  body: T;
}

/** Deploys go through Node-RED, which is quick; a server that says nothing for this long is stuck. */
const TIMEOUT_MS = 120_000;

/** Network failures, in the words an operator looks for. */
const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection was closed',
};

/**
 * The base URL of a server from `--url` or FIELDFLOW_URL: http or https, without credentials
 * (they belong in the environment, where `ps` does not show them), trailing slashes or `/api/v1`.
 */
export function serverUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not echoed: a URL that does not parse may still hold a password.
    throw new UsageError('--url must be an http or https URL, such as http://localhost:1880');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be an http or https URL (got ${url.protocol})`);
  if (url.username || url.password) throw new UsageError('--url must not hold credentials: set FIELDFLOW_USER and FIELDFLOW_PASSWORD, or FIELDFLOW_TOKEN');
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
}

/**
 * A client of the REST API (`/api/v1`) of a running server. It logs in on the first request
 * unless given a token, and {@link close} revokes a token it obtained itself. Failures are thrown
 * as the server's catalog error (FieldflowError) or a {@link ConnectionError}; no message ever
 * holds the token or the password.
 */
export class ApiClient {
  private token: string | undefined;
  private ownToken = false;

  constructor(private readonly connection: Connection) {
    this.token = connection.token;
  }

  get url(): string {
    return this.connection.url;
  }

  async get<T>(path: string): Promise<Reply<T>> {
    return this.request<T>('GET', path);
  }

  async post<T>(path: string, body?: unknown): Promise<Reply<T>> {
    return this.request<T>('POST', path, body);
  }

  async delete<T>(path: string): Promise<Reply<T>> {
    return this.request<T>('DELETE', path);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
    const token = await this.login();
    return this.send<T>(method, path, body, token);
  }

  /** Revoke the token this client logged in for, so each run does not leave one behind. */
  async close(): Promise<void> {
    if (!this.ownToken || !this.token) return;
    const token = this.token;
    this.token = undefined;
    await this.send('DELETE', '/auth/token', undefined, token).catch(() => undefined);
  }

  private async login(): Promise<string> {
    if (this.token) return this.token;
    const { user, password } = this.connection;
    if (!password) throw new UsageError('no credentials: set FIELDFLOW_PASSWORD (or FIELDFLOW_ADMIN_PASSWORD) and, for a user other than admin, FIELDFLOW_USER; or set FIELDFLOW_TOKEN');
    const reply = await this.send<{ token?: unknown }>('POST', '/auth/token', { username: user, password }, undefined);
    if (typeof reply.body?.token !== 'string') throw new ConnectionError(`${this.url} answered the login without a token: it does not look like a Fieldflow server`);
    this.token = reply.body.token;
    this.ownToken = true;
    return this.token;
  }

  private async send<T>(method: string, path: string, body: unknown, token: string | undefined): Promise<Reply<T>> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.url}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      text = await res.text();
    } catch (err) {
      throw new ConnectionError(`Cannot reach Fieldflow at ${this.url}: ${networkCause(err)}. Is the server running there? (Set the address with --url or FIELDFLOW_URL.)`);
    }
    const type = res.headers.get('content-type') ?? '';
    let parsed: unknown;
    if (text !== '') {
      if (!/json/.test(type)) throw notFieldflow(this.url, res, `a ${type || 'body without a content type'}`);
      try {
        parsed = JSON.parse(text);
      } catch {
        throw notFieldflow(this.url, res, 'JSON that does not parse');
      }
    }
    if (res.ok) return { status: res.status, body: parsed as T };
    throw problem(this.url, res, parsed);
  }
}

function networkCause(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer in ${TIMEOUT_MS / 1000} s`;
  const code = e.cause?.code;
  if (code && CAUSES[code]) return CAUSES[code];
  return e.cause?.message ?? e.message;
}

function notFieldflow(url: string, res: Response, what: string): ConnectionError {
  return new ConnectionError(`${url} answered ${res.status} ${res.statusText} with ${what}: it does not look like a Fieldflow server (check --url or FIELDFLOW_URL)`);
}

/** The server's problem+json as the catalog error it stands for. */
function problem(url: string, res: Response, body: unknown): Error {
  const p = (typeof body === 'object' && body !== null ? body : {}) as { code?: unknown; title?: unknown; detail?: unknown; errors?: unknown };
  if (typeof p.code !== 'string') return notFieldflow(url, res, 'an error that is not a Fieldflow problem');
  const errors = Array.isArray(p.errors)
    ? p.errors.filter((e): e is FieldError => typeof e?.path === 'string' && typeof e?.message === 'string').map(({ path, message }) => ({ path, message }))
    : undefined;
  const title = typeof p.title === 'string' ? p.title : res.statusText;
  return new FieldflowError({ code: p.code, status: res.status, title }, typeof p.detail === 'string' ? p.detail : title, errors ? { errors } : {});
}

/** A small JSON HTTP client over fetch: real requests to a real server. */
export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  contentType: string;
}

export class Api {
  constructor(
    readonly base: string,
    public token?: string,
  ) {}

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.token && !('authorization' in h)) h.authorization = `Bearer ${this.token}`;
    let payload: string | Uint8Array | undefined;
    if (body !== undefined) {
      payload = typeof body === "string" ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body);
      if (!('content-type' in h)) h['content-type'] = 'application/json';
    }
    const res = await fetch(this.base + path, { method, headers: h, body: payload as BodyInit | undefined });
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    return { status: res.status, headers: res.headers, body: text && contentType.includes('json') ? JSON.parse(text) : text, contentType };
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, undefined, headers);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body, headers);
  }
  patch<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PATCH', path, body, headers);
  }
  delete<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('DELETE', path, undefined, headers);
  }

  /** Log in as a user and keep the token for later requests. */
  async login(username: string, password: string): Promise<string> {
    const r = await this.post('/auth/token', { username, password });
    if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
    this.token = r.body.token;
    return r.body.token;
  }
}

import http from 'node:http';
import https from 'node:https';
import { Errors } from '../../errors';
import { ForbiddenTargetError, refusedMessage, type TargetGuard } from '../targets';
import { SendFailure } from './types';

export interface HttpRequest {
  method: 'POST' | 'PUT' | 'GET';
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Who is called, for error messages: "the webhook receiver". */
  what: string;
  /** Read the body of a successful answer too (an SMS provider's message id); otherwise it is discarded. */
  readSuccess?: boolean;
}

export interface HttpAnswer {
  status: number;
  /** The start of the body ({@link MAX_BODY} characters at most): of an error, or of a success when asked. */
  body: string;
}

/** Most of an answer's body that is read: providers' ids and error texts are short. */
const MAX_BODY = 16 * 1024;

/**
 * HTTP requests to notification providers, with node:http and one keep-alive agent per endpoint (so
 * two endpoints on one host do not share sockets, and a slow one cannot hold the other's). fetch()
 * costs about five times the CPU per request (measured in bench/notify.ts), and webhooks are the
 * high-volume channel: a burst of alarms must not take CPU from ingestion. Every connection goes
 * through the target guard: a literal address is checked before the request, a name as it is
 * resolved for the connection. Redirects are not followed.
 */
export class HttpPoster {
  private readonly agents = new Map<string, http.Agent>();

  constructor(
    private readonly maxSocketsPerOrigin: number,
    private readonly guard: TargetGuard,
  ) {}

  send(key: string, url: URL, request: HttpRequest): Promise<HttpAnswer> {
    const { what, timeoutMs } = request;
    const literal = this.guard.literalRefusal(url);
    if (literal) return Promise.reject(forbidden(what, literal));
    const agent = this.agent(key, url);
    const payload = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
    const headers = payload ? { ...request.headers, 'Content-Length': String(payload.length) } : request.headers;
    return new Promise<HttpAnswer>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, { method: request.method, agent, headers }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300 && !request.readSuccess) {
          res.resume();
          res.once('end', () => resolve({ status, body: '' }));
          return;
        }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < MAX_BODY) body += chunk.slice(0, MAX_BODY - body.length);
        });
        res.once('end', () => resolve({ status, body }));
      });
      // One deadline for the whole exchange, not per socket event.
      const timer = setTimeout(() => req.destroy(new SendFailure(Errors.PROVIDER_TIMEOUT, `${what} did not answer within ${timeoutMs} ms`, true)), timeoutMs);
      req.once('close', () => clearTimeout(timer));
      req.once('error', (err) => {
        clearTimeout(timer);
        if (err instanceof SendFailure) return reject(err);
        if (err instanceof ForbiddenTargetError) return reject(forbidden(what, err.message));
        const code = (err as NodeJS.ErrnoException).code;
        reject(new SendFailure(Errors.PROVIDER_UNREACHABLE, `${what} unreachable: ${code ?? err.message}`, true));
      });
      req.end(payload);
    });
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private agent(key: string, url: URL): http.Agent {
    const id = `${key} ${url.origin}`;
    let agent = this.agents.get(id);
    if (!agent) {
      const options = { keepAlive: true, maxSockets: this.maxSocketsPerOrigin, maxFreeSockets: this.maxSocketsPerOrigin, scheduling: 'lifo' as const, lookup: this.guard.lookup };
      agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
      this.agents.set(id, agent);
    }
    return agent;
  }
}

/** A send to a refused address: retrying cannot help until someone changes the endpoint or the allow list. */
export function forbidden(what: string, reason: string): SendFailure {
  return new SendFailure(Errors.FORBIDDEN_TARGET, `${what} ${refusedMessage(reason)}`, false);
}

import http from 'node:http';
import https from 'node:https';
import { Errors } from '../../errors';
import { SendFailure } from './types';

export interface PostResult {
  status: number;
  /** The start of the body (providers explain refusals there). */
  excerpt: string;
}

const EXCERPT = 300;

/**
 * POST with node:http and one keep-alive agent per endpoint (so two endpoints on one host do not
 * share sockets, and a slow one cannot hold the other's). fetch() costs about five times the CPU
 * per request (measured in bench/notify.ts), and webhooks are the high-volume channel: a burst of
 * alarms must not take CPU from ingestion.
 */
export class HttpPoster {
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly maxSocketsPerOrigin: number) {}

  post(key: string, url: URL, headers: Record<string, string>, body: string, timeoutMs: number, what: string): Promise<PostResult> {
    const agent = this.agent(key, url);
    const payload = Buffer.from(body, 'utf8');
    return new Promise<PostResult>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, { method: 'POST', agent, headers: { ...headers, 'Content-Length': String(payload.length) } }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          res.resume();
          res.once('end', () => resolve({ status, excerpt: '' }));
          return;
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < EXCERPT * 4) text += chunk;
        });
        res.once('end', () => {
          const squeezed = text.replace(/\s+/g, ' ').trim();
          resolve({ status, excerpt: squeezed.length > EXCERPT ? `${squeezed.slice(0, EXCERPT)}…` : squeezed });
        });
      });
      // One deadline for the whole exchange, not per socket event.
      const timer = setTimeout(() => req.destroy(new SendFailure(Errors.PROVIDER_TIMEOUT, `${what} did not answer within ${timeoutMs} ms`, true)), timeoutMs);
      req.once('close', () => clearTimeout(timer));
      req.once('error', (err) => {
        clearTimeout(timer);
        if (err instanceof SendFailure) return reject(err);
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
      const options = { keepAlive: true, maxSockets: this.maxSocketsPerOrigin, maxFreeSockets: this.maxSocketsPerOrigin, scheduling: 'lifo' as const };
      agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
      this.agents.set(id, agent);
    }
    return agent;
  }
}

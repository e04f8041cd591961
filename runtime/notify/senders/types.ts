import type { Delivery } from '../delivery';
import type { EndpointConfig, EndpointSecrets } from '../endpoint-model';
import { Errors, type ErrorDef } from '../../errors';

export interface SendRequest {
  delivery: Delivery;
  config: EndpointConfig;
  secrets: EndpointSecrets;
}

/** What the provider answered on success (kept on the attempt). */
export interface SendResult {
  status: number | null;
  info: string | null;
}

export interface Sender {
  send(request: SendRequest): Promise<SendResult>;
  close?(): Promise<void>;
}

/**
 * A failed attempt. `retry` says whether another attempt can help (a timeout, a 503) or not (a
 * 400, an unknown mailbox); `expired` marks a push subscription the browser has dropped.
 */
export class SendFailure extends Error {
  constructor(
    readonly def: ErrorDef,
    message: string,
    readonly retry: boolean,
    readonly status: number | null = null,
    readonly expired = false,
  ) {
    super(message);
  }
}

/** HTTP answers worth retrying: the provider is busy or broken, not refusing this message. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Map a fetch() failure (no HTTP answer) to a SendFailure. */
export function networkFailure(err: unknown, what: string): SendFailure {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return new SendFailure(Errors.PROVIDER_TIMEOUT, `${what} did not answer in time`, true);
  const cause = e.cause?.code ?? e.cause?.message ?? e.message;
  return new SendFailure(Errors.PROVIDER_UNREACHABLE, `${what} unreachable: ${cause}`, true);
}

/** The start of a response body, for the attempt's error (providers explain refusals there). */
export async function responseExcerpt(res: Response, max = 300): Promise<string> {
  try {
    const text = (await res.text()).replace(/\s+/g, ' ').trim();
    return text.length > max ? `${text.slice(0, max)}…` : text;
  } catch {
    return '';
  }
}

export async function httpFailure(res: Response, what: string): Promise<SendFailure> {
  const excerpt = await responseExcerpt(res);
  return new SendFailure(Errors.PROVIDER_REJECTED, `${what} answered ${res.status}${excerpt ? `: ${excerpt}` : ''}`, retryableStatus(res.status), res.status);
}

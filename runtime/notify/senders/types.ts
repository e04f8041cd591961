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

/** Map a failure without an HTTP answer (refused, reset, timed out) to a SendFailure. */
export function networkFailure(err: unknown, what: string): SendFailure {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return new SendFailure(Errors.PROVIDER_TIMEOUT, `${what} did not answer in time`, true);
  const cause = e.cause?.code ?? e.cause?.message ?? e.message;
  return new SendFailure(Errors.PROVIDER_UNREACHABLE, `${what} unreachable: ${cause}`, true);
}

/** Provider messages can echo what was sent to them; never let a credential into a delivery record. */
export function redact(message: string, secrets: object | undefined): string {
  let text = message.slice(0, 1000);
  const values: string[] = [];
  const collect = (v: unknown) => {
    if (typeof v === 'string' && v.length >= 6) values.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(collect);
  };
  collect(secrets);
  for (const v of values) text = text.split(v).join('[redacted]');
  return text;
}

/** How much of a provider's answer a delivery record keeps: enough to say why, not to copy a page. */
const EXCERPT_CHARS = 120;

/**
 * A short excerpt of a provider's answer for the attempt's error (providers explain refusals
 * there): markup and control characters out, credentials redacted before the cut (so no partial
 * credential is left at the end), then cut to {@link EXCERPT_CHARS}.
 */
export function bodyExcerpt(body: string, secrets?: object): string {
  const text = redact(
    body
      .slice(0, 4096)
      .replace(/<[^>]*>/g, ' ')
      .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
    secrets,
  );
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}

/** A provider's refusal: its status, whether it is worth another attempt, and a short, redacted excerpt of its answer. */
export function httpFailure(status: number, body: string, what: string, secrets?: object): SendFailure {
  const excerpt = bodyExcerpt(body, secrets);
  return new SendFailure(Errors.PROVIDER_REJECTED, `${what} answered ${status}${excerpt ? `: ${excerpt}` : ''}`, retryableStatus(status), status);
}

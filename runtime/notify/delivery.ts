import { randomBytes } from 'node:crypto';
import type { EndpointType } from './endpoint-model';
import type { Severity } from '../alarms/severity';
import type { StoredAttachment } from './attachments';

export const DELIVERY_STATUSES = ['queued', 'held', 'sending', 'sent', 'dead', 'cancelled'] as const;
/**
 * queued: waiting for its endpoint (or for its next attempt after a failure);
 * held: kept back by quiet hours until `notBefore`;
 * sending: an attempt is in flight (after a crash: retried, with the same idempotency key);
 * sent: the provider accepted it (never sent again);
 * dead: out of attempts, or refused for good; can be resent;
 * cancelled: its endpoint was deleted.
 */
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const DELIVERY_SOURCES = ['subscription', 'reminder', 'escalation', 'flow', 'test', 'api'] as const;
export type DeliverySource = (typeof DELIVERY_SOURCES)[number];

export interface Attempt {
  at: number;
  durationMs: number | null;
  ok: boolean;
  /** Catalog code of the failure. */
  code: string | null;
  /** What the provider said (status line, SMTP reply), with credentials removed. */
  error: string | null;
  /** HTTP status or SMTP reply code, when there was one. */
  status: number | null;
}

/** One send of one message to one endpoint: a record in the persisted outbox. */
export interface Delivery {
  /** The outbox key: the delivery id (time-ordered, so ids page in creation order). */
  key: string;
  status: DeliveryStatus;
  endpoint: string;
  endpointType: EndpointType;
  subscription: string | null;
  source: DeliverySource;
  /** `alarm`: set on reminders and escalations, whose alarm is checked again before each attempt. */
  event: { id: string; type: string; device: string | null; severity: Severity | null; ts: number; alarm?: string };
  /**
   * Rendered at enqueue time; `data` is JSON text (NeDB refuses keys with '.' or '$').
   * `attachments`: files sent with an email (other endpoint types never carry them).
   */
  message: { subject: string; text: string; html: string; data: string; attachments?: StoredAttachment[] };
  /** Sent with every attempt (the webhook `Idempotency-Key`, Twilio's idempotency token). */
  idempotencyKey: string;
  attempts: Attempt[];
  /** Recipients that already accepted it (SMS to several numbers): a retry skips them. */
  progress?: string[];
  /** Attempts in the current cycle (a resend starts a new cycle). */
  tries: number;
  maxAttempts: number;
  /** When the next attempt may start (backoff, quiet hours); null: now. */
  notBefore: number | null;
  createdAt: number;
  updatedAt: number;
  sentAt: number | null;
}

/** Attempts kept per delivery: the first and the latest ones. */
export const MAX_ATTEMPTS_KEPT = 20;

/** Time-ordered ids: 13 digits of ms, a per-ms sequence, and randomness against other processes. */
export class DeliveryIds {
  private lastMs = 0;
  private seq = 0;
  /** Drawn once: unique enough between processes, and no random bytes per delivery. */
  private readonly suffix = randomBytes(4).toString('hex');

  next(now: number): string {
    if (now === this.lastMs) this.seq++;
    else {
      this.lastMs = now;
      this.seq = 0;
    }
    return `${String(now).padStart(13, '0')}${this.seq.toString(36).padStart(3, '0')}${this.suffix}`;
  }
}

export function isFinished(d: Delivery): boolean {
  return d.status === 'sent' || d.status === 'dead' || d.status === 'cancelled';
}

export function recordAttempt(d: Delivery, attempt: Attempt): void {
  d.attempts.push(attempt);
  if (d.attempts.length > MAX_ATTEMPTS_KEPT) d.attempts.splice(1, 1);
}

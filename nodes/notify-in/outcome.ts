import type { DeliveryView } from '../../runtime/notify/views';

/** What a delivery's change can be: its status, or `failed` for an attempt that failed and will be retried. */
export const OUTCOMES = ['queued', 'held', 'sending', 'failed', 'sent', 'dead', 'cancelled'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * A failed attempt puts a delivery back to `queued` for its retry; a resend also makes a dead
 * delivery `queued`, but starts a new round (tries 0), so only the first is a failure.
 */
export function outcomeOf(d: DeliveryView): Outcome {
  const last = d.attempts.at(-1);
  if (d.status === 'queued' && d.tries > 0 && last && !last.ok) return 'failed';
  return d.status;
}

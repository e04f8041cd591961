import type { Delivery } from './delivery';
import type { StoredEndpoint } from './endpoints';
import type { Subscription } from './subscription-model';
import { iso } from '../views';
import { attachmentSummary } from './attachments';

/** An endpoint as the API shows it: its credentials only as the names of those that are set. */
export function endpointView(e: StoredEndpoint) {
  return {
    id: e.id,
    type: e.type,
    name: e.name,
    enabled: e.enabled,
    disabledReason: e.disabledReason,
    owner: e.owner,
    config: structuredClone(e.config),
    credentials: Object.keys(e.secretNames).length ? { ...e.secretNames } : {},
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
  };
}

export function subscriptionView(s: Subscription) {
  return { ...structuredClone(s), createdAt: iso(s.createdAt), updatedAt: iso(s.updatedAt) };
}

/** A delivery as the API, events and nodes show it. Credentials were never part of it. */
export function deliveryView(d: Delivery, detail = false) {
  return {
    id: d.key,
    status: d.status,
    endpoint: d.endpoint,
    endpointType: d.endpointType,
    subscription: d.subscription,
    source: d.source,
    event: { id: d.event.id, type: d.event.type, device: d.event.device, severity: d.event.severity, time: iso(d.event.ts) },
    subject: d.message.subject,
    text: d.message.text,
    attachments: attachmentSummary(d.message.attachments),
    ...(detail ? { html: d.message.html, data: JSON.parse(d.message.data) as unknown } : {}),
    idempotencyKey: d.idempotencyKey,
    tries: d.tries,
    maxAttempts: d.maxAttempts,
    attempts: d.attempts.map((a) => ({ ...a, at: iso(a.at) })),
    nextAttemptAt: d.status === 'queued' || d.status === 'held' ? iso(d.notBefore) : null,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
    sentAt: iso(d.sentAt),
  };
}

export type DeliveryView = ReturnType<typeof deliveryView>;

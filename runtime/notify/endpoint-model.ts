import { Errors, type FieldError, type FieldflowError } from '../errors';
import { checkTemplates } from './templates';
import { refusedMessage, type TargetGuard } from './targets';

export const ENDPOINT_TYPES = ['email', 'sms', 'push', 'webhook'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

export interface EmailConfig {
  to: string[];
  cc: string[];
}

export type SmsConfig =
  | { provider: 'twilio'; accountSid: string; from: string; to: string[]; baseUrl: string }
  | { provider: 'http'; url: string; method: 'POST' | 'PUT' | 'GET'; contentType: string; bodyTemplate: string; to: string[] };

export interface PushConfig {
  /** The push service's origin (the full endpoint URL is a credential and stays sealed). */
  service: string;
  userAgent: string | null;
}

export interface WebhookConfig {
  url: string;
  timeoutMs: number;
}

export type EndpointConfig = EmailConfig | SmsConfig | PushConfig | WebhookConfig;

/** What is sealed (encrypted) per type; never returned by the API. */
export interface EndpointSecrets {
  authToken?: string;
  headers?: Record<string, string>;
  subscription?: PushSubscriptionJSON;
  secret?: string;
}

export interface PushSubscriptionJSON {
  endpoint: string;
  expirationTime?: number | null;
  keys: { p256dh: string; auth: string };
}

export interface EndpointInput {
  type?: unknown;
  name?: unknown;
  enabled?: unknown;
  config?: unknown;
  credentials?: unknown;
}

/** A checked endpoint definition: what the service stores (secrets still in clear here). */
export interface CheckedEndpoint {
  type: EndpointType;
  name: string;
  enabled: boolean;
  config: EndpointConfig;
  secrets: EndpointSecrets;
}

const MAX_RECIPIENTS = 50;
const E164 = /^\+[1-9][0-9]{7,14}$/;
// The practical subset of RFC 5321 addresses: a dot-atom local part and a host name with a dot.
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const BASE64URL = /^[A-Za-z0-9_-]+=*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;

/** Problems found while checking, each with the catalog error it belongs to. */
class Problems {
  private readonly list: Array<FieldError & { error: (detail?: string, extra?: { errors?: FieldError[] }) => FieldflowError }> = [];
  add(error: (detail?: string, extra?: { errors?: FieldError[] }) => FieldflowError, path: string, message: string): void {
    this.list.push({ error, path, message });
  }
  /** Throw the most specific error found (the first that is not the generic one), listing every problem. */
  throwIfAny(): void {
    if (!this.list.length) return;
    const errors = this.list.map(({ path, message }) => ({ path, message }));
    const specific = this.list.find((x) => x.error !== Errors.INVALID_ENDPOINT) ?? this.list[0];
    throw specific.error(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isEmail(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 254 && EMAIL.test(value);
}

export function isE164(value: unknown): value is string {
  return typeof value === 'string' && E164.test(value);
}

/** An absolute http(s) URL, or null. */
export function httpUrl(value: unknown): URL | null {
  if (typeof value !== 'string' || value.length > 2048) return null;
  try {
    const url = new URL(value);
    // user:password@ in a URL would be shown in every view and log line; fetch refuses it anyway.
    if (url.username || url.password) return null;
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

function list(p: Problems, value: unknown, path: string, required: boolean): unknown[] {
  if (value === undefined && !required) return [];
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items) || (required && items.length === 0) || items.length > MAX_RECIPIENTS) {
    p.add(Errors.INVALID_ENDPOINT, path, `must be a list of 1-${MAX_RECIPIENTS} recipients`);
    return [];
  }
  return items;
}

function emails(p: Problems, value: unknown, path: string, required: boolean): string[] {
  const items = list(p, value, path, required);
  items.forEach((v, i) => {
    if (!isEmail(v)) p.add(Errors.INVALID_EMAIL, `${path}/${i}`, `${JSON.stringify(v)?.slice(0, 80)} is not an email address`);
  });
  return items as string[];
}

function phones(p: Problems, value: unknown, path: string): string[] {
  const items = list(p, value, path, true);
  items.forEach((v, i) => {
    if (!isE164(v)) p.add(Errors.INVALID_PHONE, `${path}/${i}`, `${JSON.stringify(v)?.slice(0, 80)} is not an E.164 number such as +14155550100`);
  });
  return items as string[];
}

function text(p: Problems, value: unknown, path: string, max = 256): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    p.add(Errors.INVALID_ENDPOINT, path, `must be a string of 1-${max} characters`);
    return '';
  }
  return value;
}

function url(p: Problems, value: unknown, path: string): string {
  const parsed = httpUrl(value);
  if (!parsed) p.add(Errors.INVALID_URL, path, 'is not an absolute http(s) URL without user:password@');
  return parsed ? parsed.href : '';
}

function unknownKeys(p: Problems, value: Record<string, unknown>, allowed: string[], path: string): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) p.add(Errors.INVALID_ENDPOINT, `${path}/${key}`, 'is not allowed');
}

/** Check a browser PushSubscription (toJSON() form). */
export function checkPushSubscription(value: unknown, path = '/credentials/subscription'): PushSubscriptionJSON {
  const p = new Problems();
  const bad = (at: string, message: string) => p.add(Errors.INVALID_PUSH_SUBSCRIPTION, `${path}${at}`, message);
  if (!isObject(value)) {
    bad('', 'must be a PushSubscription object: {endpoint, keys: {p256dh, auth}}');
    p.throwIfAny();
  }
  const sub = value as Record<string, unknown>;
  const endpoint = httpUrl(sub.endpoint);
  if (!endpoint || endpoint.protocol !== 'https:') bad('/endpoint', 'must be the https URL of a push service');
  if (sub.expirationTime !== undefined && sub.expirationTime !== null && typeof sub.expirationTime !== 'number') bad('/expirationTime', 'must be a number or null');
  const keys = isObject(sub.keys) ? sub.keys : null;
  if (!keys) bad('/keys', 'must be an object with p256dh and auth');
  else {
    const p256dh = typeof keys.p256dh === 'string' && BASE64URL.test(keys.p256dh) ? Buffer.from(keys.p256dh, 'base64url') : null;
    if (!p256dh || p256dh.length !== 65 || p256dh[0] !== 4) bad('/keys/p256dh', 'must be an uncompressed P-256 public key, base64url (65 bytes)');
    const auth = typeof keys.auth === 'string' && BASE64URL.test(keys.auth) ? Buffer.from(keys.auth, 'base64url') : null;
    if (!auth || auth.length !== 16) bad('/keys/auth', 'must be a 16-byte secret, base64url');
  }
  p.throwIfAny();
  return { endpoint: endpoint!.href, expirationTime: (sub.expirationTime as number | null | undefined) ?? null, keys: { p256dh: keys!.p256dh as string, auth: keys!.auth as string } };
}

/** Where an endpoint's credentials are sent: a change of it needs them sent again. */
function destination(config: EndpointConfig | Record<string, unknown>): string {
  const c = config as Record<string, unknown>;
  const norm = (u: unknown) => (httpUrl(u)?.href ?? String(u)).replace(/\/$/, '');
  if (c.provider === 'twilio') return `twilio ${norm(c.baseUrl ?? 'https://api.twilio.com')} ${c.accountSid}`;
  return norm(c.url ?? '');
}

/** The URLs an endpoint sends to, with where each is in an endpoint body. */
export function targetsOf(endpoint: Pick<CheckedEndpoint, 'type' | 'config' | 'secrets'>): Array<{ url: string; path: string }> {
  const c = endpoint.config as Record<string, unknown>;
  const found: Array<{ url: string; path: string }> = [];
  if (endpoint.type === 'webhook' || (endpoint.type === 'sms' && c.provider === 'http')) found.push({ url: c.url as string, path: '/config/url' });
  if (endpoint.type === 'sms' && c.provider === 'twilio') found.push({ url: c.baseUrl as string, path: '/config/baseUrl' });
  if (endpoint.type === 'push' && endpoint.secrets.subscription) found.push({ url: endpoint.secrets.subscription.endpoint, path: '/credentials/subscription/endpoint' });
  return found.filter((t) => httpUrl(t.url) !== null);
}

/**
 * Check an endpoint definition. `existing` (on update) supplies stored credentials that the
 * input leaves out, so a PATCH need not resend a token. With a `guard`, URLs whose host is an
 * internal address as written (not yet resolved: see TargetGuard.checkSaved) are refused. Throws
 * the most specific catalog error (FF_INVALID_EMAIL, FF_INVALID_PHONE, FF_INVALID_URL,
 * FF_FORBIDDEN_TARGET, FF_MISSING_CREDENTIALS, ...) listing every problem.
 */
export function checkEndpoint(input: EndpointInput, options: { smtpConfigured: boolean; existing?: CheckedEndpoint; guard?: TargetGuard }): CheckedEndpoint {
  const p = new Problems();
  if (!isObject(input)) {
    p.add(Errors.INVALID_ENDPOINT, '/', 'must be a JSON object');
    p.throwIfAny();
  }
  unknownKeys(p, input as Record<string, unknown>, ['type', 'name', 'enabled', 'config', 'credentials'], '');
  const type = input.type as EndpointType;
  if (!(ENDPOINT_TYPES as readonly unknown[]).includes(type)) {
    p.add(Errors.INVALID_ENDPOINT, '/type', `must be one of ${ENDPOINT_TYPES.join(', ')}`);
    p.throwIfAny();
  }
  const name = text(p, input.name, '/name', 128);
  if (input.enabled !== undefined && typeof input.enabled !== 'boolean') p.add(Errors.INVALID_ENDPOINT, '/enabled', 'must be a boolean');
  const config = isObject(input.config) ? input.config : {};
  if (input.config !== undefined && !isObject(input.config)) p.add(Errors.INVALID_ENDPOINT, '/config', 'must be an object');
  if (input.credentials !== undefined && !isObject(input.credentials)) p.add(Errors.INVALID_ENDPOINT, '/credentials', 'must be an object');
  const given = (isObject(input.credentials) ? input.credentials : {}) as Record<string, unknown>;
  // Stored credentials are kept only while they go where they went before: otherwise anyone who may
  // edit an endpoint could point it at their own server and collect the token it sends.
  const existing = options.existing?.type === type ? options.existing : undefined;
  const moved = existing !== undefined && destination(existing.config) !== destination(config as EndpointConfig);
  const kept = existing && !moved ? existing.secrets : {};
  if (moved) {
    for (const name of Object.keys(existing.secrets)) {
      const had = (existing.secrets as Record<string, unknown>)[name];
      const set = had !== undefined && !(isObject(had) && Object.keys(had).length === 0);
      if (set && given[name] === undefined) p.add(Errors.MISSING_CREDENTIALS, `/credentials/${name}`, 'must be sent again when the destination (URL, base URL or account) changes');
    }
  }
  const credentials = { ...kept, ...given } as Record<string, unknown>;
  let checked: { config: EndpointConfig; secrets: EndpointSecrets } = { config: {} as EndpointConfig, secrets: {} };

  switch (type) {
    case 'email': {
      unknownKeys(p, config, ['to', 'cc'], '/config');
      if (!options.smtpConfigured) p.add(Errors.MISSING_CREDENTIALS, '/type', 'email needs an SMTP server: set FIELDFLOW_SMTP_HOST (see docs/notifications.md)');
      checked = { config: { to: emails(p, config.to, '/config/to', true), cc: emails(p, config.cc, '/config/cc', false) }, secrets: {} };
      break;
    }
    case 'sms': {
      const provider = config.provider;
      if (provider === 'twilio') {
        unknownKeys(p, config, ['provider', 'accountSid', 'from', 'to', 'baseUrl'], '/config');
        const accountSid = text(p, config.accountSid, '/config/accountSid', 64);
        if (!isE164(config.from)) p.add(Errors.INVALID_PHONE, '/config/from', 'must be an E.164 number such as +14155550100');
        const to = phones(p, config.to, '/config/to');
        const baseUrl = config.baseUrl === undefined ? 'https://api.twilio.com' : url(p, config.baseUrl, '/config/baseUrl');
        if (typeof credentials.authToken !== 'string' || credentials.authToken === '') p.add(Errors.MISSING_CREDENTIALS, '/credentials/authToken', 'the Twilio auth token is required');
        checked = { config: { provider, accountSid, from: config.from as string, to, baseUrl: baseUrl.replace(/\/$/, '') }, secrets: { authToken: credentials.authToken as string } };
      } else if (provider === 'http') {
        unknownKeys(p, config, ['provider', 'url', 'method', 'contentType', 'bodyTemplate', 'to'], '/config');
        const method = config.method ?? 'POST';
        if (!['POST', 'PUT', 'GET'].includes(method as string)) p.add(Errors.INVALID_ENDPOINT, '/config/method', 'must be POST, PUT or GET');
        const bodyTemplate = config.bodyTemplate ?? '{"to":"{{to}}","text":"{{text}}"}';
        const headers = credentials.headers ?? {};
        if (!isObject(headers) || Object.entries(headers).some(([k, v]) => !HEADER_NAME.test(k) || typeof v !== 'string' || /[\r\n]/.test(v))) {
          p.add(Errors.INVALID_ENDPOINT, '/credentials/headers', 'must map header names to single-line strings');
        }
        const contentType = config.contentType ?? 'application/json';
        if (typeof contentType !== 'string' || /[\r\n]/.test(contentType)) p.add(Errors.INVALID_ENDPOINT, '/config/contentType', 'must be a media type');
        checked = {
          config: { provider, url: url(p, config.url, '/config/url'), method: method as 'POST', contentType: contentType as string, bodyTemplate: bodyTemplate as string, to: phones(p, config.to, '/config/to') },
          secrets: { headers: headers as Record<string, string> },
        };
        if (typeof bodyTemplate === 'string') {
          p.throwIfAny();
          checkTemplates(undefined, '/config', { bodyTemplate });
        } else p.add(Errors.INVALID_TEMPLATE, '/config/bodyTemplate', 'must be a string');
      } else {
        p.add(Errors.INVALID_ENDPOINT, '/config/provider', 'must be "twilio" or "http"');
      }
      break;
    }
    case 'push': {
      unknownKeys(p, config, ['userAgent'], '/config');
      p.throwIfAny();
      if (credentials.subscription === undefined) p.add(Errors.MISSING_CREDENTIALS, '/credentials/subscription', 'the browser push subscription is required');
      p.throwIfAny();
      const subscription = checkPushSubscription(credentials.subscription);
      const userAgent = typeof config.userAgent === 'string' ? config.userAgent.slice(0, 256) : null;
      checked = { config: { service: new URL(subscription.endpoint).origin, userAgent }, secrets: { subscription } };
      break;
    }
    case 'webhook': {
      unknownKeys(p, config, ['url', 'timeoutMs'], '/config');
      const timeoutMs = config.timeoutMs ?? 10_000;
      if (!Number.isInteger(timeoutMs) || (timeoutMs as number) < 100 || (timeoutMs as number) > 120_000) p.add(Errors.INVALID_ENDPOINT, '/config/timeoutMs', 'must be an integer from 100 to 120000');
      const secret = credentials.secret;
      if (secret !== undefined && (typeof secret !== 'string' || secret.length < 16 || secret.length > 256)) p.add(Errors.INVALID_ENDPOINT, '/credentials/secret', 'must be a string of 16-256 characters');
      checked = { config: { url: url(p, config.url, '/config/url'), timeoutMs: timeoutMs as number }, secrets: { secret: secret as string | undefined } };
      break;
    }
  }
  for (const target of options.guard ? targetsOf({ type, ...checked }) : []) {
    const why = options.guard!.literalRefusal(new URL(target.url));
    if (why) p.add(Errors.FORBIDDEN_TARGET, target.path, refusedMessage(why));
  }
  p.throwIfAny();
  return { type, name, enabled: (input.enabled as boolean | undefined) ?? options.existing?.enabled ?? true, ...checked };
}

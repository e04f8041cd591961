import Mustache from 'mustache';
import { Errors, type FieldError } from '../errors';

/** The templates of a notification: a subject, a text body and an optional HTML body. */
export interface Template {
  subject: string;
  body: string;
  html?: string | null;
}

export interface Rendered {
  subject: string;
  text: string;
  html: string;
}

const MAX_TEMPLATE = 16 * 1024;
/**
 * Sections repeat over arrays, and nested sections multiply: three levels over the 50 items a view
 * keeps per array is 125,000 iterations at most. Rendering is synchronous, so this bounds how long
 * one notification can hold the event loop.
 */
const MAX_SECTION_DEPTH = 3;
const MAX_VIEW_ARRAY = 50;

type Token = [string, string, number, number, Token[]?, ...unknown[]];

function sectionDepth(tokens: Token[]): number {
  let deepest = 0;
  for (const t of tokens) if ((t[0] === '#' || t[0] === '^') && t[4]) deepest = Math.max(deepest, 1 + sectionDepth(t[4]));
  return deepest;
}

/** A copy of a template view with every array cut to MAX_VIEW_ARRAY items. */
export function boundedView<T>(value: T, depth = 0): T {
  if (depth > 32 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, MAX_VIEW_ARRAY).map((v) => boundedView(v, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = boundedView(v, depth + 1);
  return out as T;
}
const MAX_RENDERED = 64 * 1024;

/** What a template sees, by event type when no template is given. */
export const DEFAULT_TEMPLATES: Record<string, Template> = {
  AlarmRaised: { subject: '[{{severity}}] {{alarm.type}} on {{device.name}}', body: '{{alarm.type}} raised on {{device.name}} ({{severity}}): {{alarm.message}} at {{time}}' },
  AlarmUpdated: { subject: '[{{severity}}] {{alarm.type}} on {{device.name}} updated', body: '{{alarm.type}} on {{device.name}} is now {{severity}} (raised {{alarm.count}} times): {{alarm.message}}' },
  AlarmAcked: { subject: '{{alarm.type}} on {{device.name}} acknowledged', body: '{{alarm.type}} on {{device.name}} was acknowledged by {{alarm.ackedBy}} at {{time}}' },
  AlarmCleared: { subject: '{{alarm.type}} on {{device.name}} cleared', body: '{{alarm.type}} on {{device.name}} cleared at {{time}}' },
  AlarmReminder: { subject: 'Reminder: [{{severity}}] {{alarm.type}} on {{device.name}} is not acknowledged', body: '{{alarm.type}} on {{device.name}} ({{severity}}) is still unacknowledged, {{minutesOpen}} minutes after it was raised: {{alarm.message}}' },
  TriggerFired: { subject: 'Trigger {{fire.triggerName}} fired on {{device.name}}', body: '{{fire.triggerName}} fired on {{device.name}} at {{time}} (value {{fire.value}})' },
  DeviceOffline: { subject: '{{device.name}} is offline', body: '{{device.name}} went offline at {{time}}' },
  DeviceOnline: { subject: '{{device.name}} is online', body: '{{device.name}} came online at {{time}}' },
  OtaFailed: { subject: 'Update failed on {{device.name}}', body: 'The update of {{device.name}} failed at {{time}}: {{message}}' },
  Custom: { subject: '{{#device}}{{device.name}}: {{/device}}{{name}}', body: '{{message}}{{^message}}{{dataText}}{{/message}}' },
};

/** Throw FF_INVALID_TEMPLATE (naming the field and why) unless every template compiles. */
export function checkTemplates(template: Partial<Record<keyof Template, unknown>> | undefined, at: string, extra: Record<string, unknown> = {}): void {
  const errors: FieldError[] = [];
  for (const [field, value] of Object.entries({ ...template, ...extra })) {
    if (value === undefined || value === null) continue;
    const path = `${at}/${field}`;
    if (typeof value !== 'string') errors.push({ path, message: 'must be a string' });
    else if (value.length > MAX_TEMPLATE) errors.push({ path, message: `must be at most ${MAX_TEMPLATE} characters` });
    else {
      try {
        if (sectionDepth(Mustache.parse(value) as unknown as Token[]) > MAX_SECTION_DEPTH) errors.push({ path, message: `sections may nest at most ${MAX_SECTION_DEPTH} deep` });
      } catch (err) {
        errors.push({ path, message: (err as Error).message });
      }
    }
  }
  if (errors.length) throw Errors.INVALID_TEMPLATE(errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
}

const noEscape = (text: string) => text;

/** Render text (no HTML escaping: it goes to SMS, push and the text part) or HTML (escaped). */
export function renderText(template: string, view: object): string {
  return clip(Mustache.render(template, view, undefined, { escape: noEscape }));
}

export function renderHtml(template: string, view: object): string {
  return clip(Mustache.render(template, view));
}

/** The HTML part when only a text template is given: the text, escaped, line breaks kept. */
export function textToHtml(text: string): string {
  const escaped = text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
  return `<!doctype html><html><body><p>${escaped.replace(/\n/g, '<br>')}</p></body></html>`;
}

export function render(template: Template, view: object): Rendered {
  const text = renderText(template.body, view);
  return {
    subject: renderText(template.subject, view).replace(/[\r\n]+/g, ' ').trim(),
    text,
    html: template.html ? renderHtml(template.html, view) : textToHtml(text),
  };
}

function clip(text: string): string {
  return text.length > MAX_RENDERED ? text.slice(0, MAX_RENDERED - 1) + '…' : text;
}

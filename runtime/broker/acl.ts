/**
 * The MQTT access-control table (in the style of FlowFuse's comms/aclManager.js): topic pattern
 * -> named check. A topic that matches no row is denied. Patterns use `{name}` for one captured
 * level and a trailing `#` for "anything below".
 *
 * A device may only touch topics under `devices/{its id}/`.
 */
export interface AclContext {
  deviceId: string;
}

type Check = (ctx: AclContext, params: Record<string, string>) => boolean;

const checks = {
  /** The topic's device level is the authenticated device. */
  ownDevice: (ctx, params) => params.device === ctx.deviceId,
} satisfies Record<string, Check>;

export type CheckName = keyof typeof checks;
/** What the broker does with a publish that passed the check. */
export type Route = 'channel' | 'tags' | 'otaStatus';

export interface AclRule {
  pattern: string;
  check: CheckName;
  route?: Route;
}

export const PUBLISH_ACL: readonly AclRule[] = [
  { pattern: 'devices/{device}/channels/{channel}', check: 'ownDevice', route: 'channel' },
  { pattern: 'devices/{device}/tags/{appKey}', check: 'ownDevice', route: 'tags' },
  // The same with a client message id, for de-duplication of resends (docs/mqtt.md).
  { pattern: 'devices/{device}/channels/{channel}/{messageId}', check: 'ownDevice', route: 'channel' },
  { pattern: 'devices/{device}/tags/{appKey}/{messageId}', check: 'ownDevice', route: 'tags' },
  { pattern: 'devices/{device}/ota/status', check: 'ownDevice', route: 'otaStatus' },
];

export const SUBSCRIBE_ACL: readonly AclRule[] = [
  // Any filter under the device's own level, wildcards included; the device level itself must be
  // literal, or `devices/+/...` would reach other devices.
  { pattern: 'devices/{device}/#', check: 'ownDevice' },
];

export interface AclMatch {
  rule: AclRule;
  params: Record<string, string>;
}

/** Patterns split once: this runs for every packet. */
const compiled = new WeakMap<AclRule, string[]>();

/** The first rule whose pattern matches and whose check passes, or null (denied). */
export function authorize(rules: readonly AclRule[], topic: string, ctx: AclContext): AclMatch | null {
  const levels = topic.split('/');
  for (const rule of rules) {
    let parts = compiled.get(rule);
    if (!parts) compiled.set(rule, (parts = rule.pattern.split('/')));
    const params = matchPattern(parts, levels);
    if (params && checks[rule.check](ctx, params)) return { rule, params };
  }
  return null;
}

function matchPattern(parts: string[], levels: string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === '#') return params; // [MQTT-4.7.1-2] '#' also matches the parent level
    const level = levels[i];
    if (level === undefined) return null;
    if (part.startsWith('{')) {
      // A captured level is an identity; a wildcard there would widen the grant.
      if (level === '' || level === '+' || level === '#') return null;
      params[part.slice(1, -1)] = level;
    } else if (part !== level) {
      return null;
    }
  }
  return levels.length === parts.length ? params : null;
}

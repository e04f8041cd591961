import { Errors } from '../errors';

/**
 * Label selectors, in the Kubernetes style: comma-separated requirements that must all hold.
 *   key=value   key==value   key!=value   key (present)   !key (absent)
 */
export type Requirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'exists' | 'absent'; key: string };

export type Selector = Requirement[];

/** Label keys: no '.' or '$' (NeDB field names), no selector punctuation. */
export const LABEL_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$';
/** Device model names (also what OTA artifacts target). */
export const MODEL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
/** Label values: no selector punctuation (',', '=', '!'). */
export const LABEL_VALUE_PATTERN = '^[A-Za-z0-9 _.:/@+-]{0,128}$';
const KEY = new RegExp(LABEL_KEY_PATTERN);
const VALUE = new RegExp(LABEL_VALUE_PATTERN);

export function parseSelector(text: string): Selector {
  const source = text.trim();
  if (source === '') return [];
  return source.split(',').map((part) => parseRequirement(part.trim(), text));
}

function parseRequirement(part: string, whole: string): Requirement {
  const fail = (why: string) => Errors.INVALID_SELECTOR(`"${whole}": ${why}`);
  if (part === '') throw fail('empty requirement');
  let m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
  if (m) {
    const [, key, op, value] = m;
    if (!KEY.test(key)) throw fail(`invalid label key "${key}"`);
    if (!VALUE.test(value)) throw fail(`invalid label value "${value}"`);
    return { op: op === '!=' ? 'neq' : 'eq', key, value };
  }
  m = /^(!?)\s*([^=!\s]+)$/.exec(part);
  if (m && KEY.test(m[2])) return { op: m[1] ? 'absent' : 'exists', key: m[2] };
  throw fail(`cannot parse "${part}"`);
}

export function matchesSelector(labels: Record<string, string>, selector: Selector): boolean {
  for (const r of selector) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'eq':
        if (!has || labels[r.key] !== r.value) return false;
        break;
      case 'neq':
        if (has && labels[r.key] === r.value) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case 'absent':
        if (has) return false;
        break;
    }
  }
  return true;
}

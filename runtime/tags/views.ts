import type { TagSet } from './service';
import { iso } from '../views';

export function tagSetView(t: TagSet) {
  return { appKey: t.appKey, values: t.values, types: t.types, updatedAt: iso(t.updatedAt) };
}

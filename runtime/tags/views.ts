import type { TagSet } from './service';

export function tagSetView(t: TagSet) {
  return { appKey: t.appKey, values: t.values, types: t.types, updatedAt: t.updatedAt === null ? null : new Date(t.updatedAt).toISOString() };
}

/** Shared by the view functions: times leave the platform as ISO 8601 strings, or null when unset. */
export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

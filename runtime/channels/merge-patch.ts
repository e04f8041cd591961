/**
 * JSON Merge Patch (RFC 7386): objects merge recursively, null deletes a key, anything else
 * (arrays, scalars) replaces, and a patch that is not an object replaces the target whole.
 *
 * The target is not modified: objects on the patched paths are copied, the rest is shared, so an
 * aggregate handed to an event consumer earlier never changes under it.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) {
      delete result[key];
    } else {
      setOwn(result, key, mergePatch(result[key], value));
    }
  }
  return result;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Plain assignment of "__proto__" would change the object's prototype instead of adding a key
 * (JSON.parse makes it an ordinary own key, and a device can send one).
 */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

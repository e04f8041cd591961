/** Sessions a device may keep at once; past it the least recently connected one is forgotten. */
const MAX_SESSIONS_PER_DEVICE = 100;

/**
 * Which client ids have a persistent session (clean session 0), per device [MQTT-3.1.2-4]. A session
 * exists from its first connection even when it holds nothing, which Aedes' subscriptions cannot
 * tell. It lives in memory, as Aedes' session state does: after a restart no session exists.
 *
 * The cap bounds what a device cycling through client ids can make the broker keep. Forgetting a
 * session here only loses the flag of one without subscriptions: Aedes flags those it restores.
 */
export class PersistentSessions {
  private readonly byDevice = new Map<string, Set<string>>();

  has(deviceId: string, clientId: string): boolean {
    return this.byDevice.get(deviceId)?.has(clientId) === true;
  }

  /** A connection was accepted: clean session 0 keeps or starts the session, 1 ends it [MQTT-3.1.2-6]. */
  connected(deviceId: string, clientId: string, clean: boolean): void {
    let ids = this.byDevice.get(deviceId);
    if (clean) {
      ids?.delete(clientId);
      if (ids?.size === 0) this.byDevice.delete(deviceId);
      return;
    }
    if (!ids) this.byDevice.set(deviceId, (ids = new Set()));
    // Delete and add again: a Set iterates in insertion order, so the first is the least recent.
    ids.delete(clientId);
    if (ids.size >= MAX_SESSIONS_PER_DEVICE) ids.delete(ids.values().next().value as string);
    ids.add(clientId);
  }

  /** A deleted device's sessions go with it; its id is never reused. */
  forget(deviceId: string): void {
    this.byDevice.delete(deviceId);
  }
}

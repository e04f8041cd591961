/** Does an MQTT topic filter (with `+` and a trailing `#`) match a topic? [MQTT-4.7.1] */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The HTTP base URL of a server, from its MQTT URL: the same host and port over WebSocket, else port 1880. */
export function httpBaseFromMqtt(mqttUrl: string): string {
  const u = new URL(mqttUrl);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') return `${u.protocol === 'wss:' ? 'https' : 'http'}://${u.host}`;
  const host = u.hostname.includes(':') && !u.hostname.startsWith('[') ? `[${u.hostname}]` : u.hostname;
  return `${u.protocol === 'mqtts:' ? 'https' : 'http'}://${host}:1880`;
}

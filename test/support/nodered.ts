import { randomBytes } from 'node:crypto';

/**
 * Deploy flows to the real server through Node-RED's own admin API, as the editor does, and wait
 * until they run. Node-RED answers the deploy before the new flows have started, so a sentinel
 * `http in` endpoint is deployed with them and polled until it answers.
 */
export async function deployFlows(httpUrl: string, password: string, flows: Array<Record<string, unknown>>): Promise<void> {
  const token = await editorToken(httpUrl, password);
  const tab = flows.find((n) => n.type === 'tab')?.id;
  const ready = randomBytes(6).toString('hex');
  const sentinel = [
    { id: `${ready}a`, z: tab, type: 'http in', url: `/__ready/${ready}`, method: 'get', wires: [[`${ready}b`]] },
    { id: `${ready}b`, z: tab, type: 'http response', statusCode: '200', wires: [] },
  ];
  const res = await fetch(`${httpUrl}/flows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'Node-RED-Deployment-Type': 'full' },
    body: JSON.stringify([...flows, ...sentinel]),
  });
  if (res.status !== 204 && res.status !== 200) throw new Error(`deploy failed: ${res.status} ${await res.text()}`);
  const deadline = Date.now() + 10_000;
  while ((await fetch(`${httpUrl}/__ready/${ready}`)).status !== 200) {
    if (Date.now() > deadline) throw new Error('deployed flows did not start');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** An access token for Node-RED's admin API (the editor's login). */
export async function editorToken(httpUrl: string, password: string): Promise<string> {
  const login = await fetch(`${httpUrl}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: 'node-red-admin', grant_type: 'password', scope: '*', username: 'admin', password }),
  });
  if (login.status !== 200) throw new Error(`editor login failed: ${login.status} ${await login.text()}`);
  return ((await login.json()) as { access_token: string }).access_token;
}

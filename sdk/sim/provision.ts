import { HttpStatusError } from '../errors';
import type { SimOptions } from './args';
import { readState, writeState, type SimState } from './state';

/** A JSON request to the REST API; rejects with HttpStatusError on a status it did not expect. */
async function call(method: string, url: string, token: string | undefined, body: unknown, ok: number[]): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!ok.includes(res.status)) throw new HttpStatusError(res.status, `${method} ${url}`, text);
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** The ids of every device on the server (`GET /api/v1/devices`, page by page). */
async function deviceIds(url: string, token: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let after: string | null = null;
  do {
    const query: string = `limit=1000${after === null ? '' : `&after=${encodeURIComponent(after)}`}`;
    const page = (await call('GET', `${url}/api/v1/devices?${query}`, token, undefined, [200])).body as { items: Array<{ id: string }>; next: string | null };
    for (const d of page.items) ids.add(d.id);
    after = page.next;
  } while (after !== null);
  return ids;
}

/** `POST /api/v1/auth/token`: a user token. */
export async function login(url: string, username: string, password: string): Promise<string> {
  return (await call('POST', `${url}/api/v1/auth/token`, undefined, { username, password }, [200])).body.token;
}

/**
 * The state with at least `count` devices: those in the state file, plus new ones created over REST
 * (each saved to the state file as soon as it exists: its token is shown only once).
 * Also records the platform's OTA signing key, when one can be read.
 */
export async function provision(options: SimOptions, log: (line: string) => void): Promise<SimState> {
  const saved = await readState(options.stateFile);
  const state: SimState = saved ?? { version: 1, url: options.url, signingPublicKey: undefined, devices: [] };
  if (saved && saved.url !== options.url) log(`note: ${options.stateFile} was written for ${saved.url}; connecting its devices to ${options.url}`);
  let token: string | undefined;
  if (saved && saved.devices.length && options.password) {
    // A server started afresh (its data directory deleted) no longer has the saved devices: make new ones
    // rather than connecting devices the broker refuses.
    token = await login(options.url, options.user, options.password);
    const known = await deviceIds(options.url, token);
    const gone = state.devices.filter((d) => !known.has(d.id));
    if (gone.length) {
      log(`${gone.length} of the ${state.devices.length} devices in ${options.stateFile} no longer exist on ${options.url}; creating new ones`);
      state.devices = state.devices.filter((d) => known.has(d.id));
      state.signingPublicKey = undefined;
    }
  }
  const missing = options.count - state.devices.length;
  if (saved && missing <= 0) log(`reusing ${options.count} of the ${saved.devices.length} devices in ${options.stateFile}`);
  if (missing > 0 && !options.password) {
    throw new Error(
      `${missing} device(s) must be created and that needs the admin password: pass --password or set FIELDFLOW_ADMIN_PASSWORD` +
        (saved ? ` (${options.stateFile} has ${saved.devices.length})` : ''),
    );
  }
  if (options.password && (missing > 0 || state.signingPublicKey === undefined)) {
    token ??= await login(options.url, options.user, options.password);
    if (missing > 0) log(`creating ${missing} device(s) of model ${options.model}${Object.keys(options.labels).length ? ` with labels ${JSON.stringify(options.labels)}` : ''}`);
    for (let i = state.devices.length + 1; i <= options.count; i++) {
      const name = `${options.namePrefix}${i}`;
      const r = await call('POST', `${options.url}/api/v1/devices`, token, { name, model: options.model, labels: options.labels }, [201]);
      state.devices.push({ id: r.body.id, name, token: r.body.token, model: options.model, firmware: options.firmware });
      await writeState(options.stateFile, state);
    }
    const key = await call('GET', `${options.url}/api/v1/ota/signing-key`, token, undefined, [200, 404]);
    state.signingPublicKey = key.status === 200 ? key.body.publicKey : null;
  }
  await writeState(options.stateFile, state);
  return state;
}

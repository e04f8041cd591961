import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** The key Node-RED encrypts flow credentials with (its `credentialSecret`), and where it came from. */
export interface FlowSecret {
  secret: string;
  /** The key file, or null when the key is FIELDFLOW_CREDENTIAL_SECRET. */
  file: string | null;
  /** Whether this start created the key file (the start-up banner says so, once). */
  created: boolean;
}

/** Node-RED's own runtime settings file, where it keeps a key it generated (`_credentialSecret`). */
const NODE_RED_RUNTIME_SETTINGS = '.config.runtime.json';

/**
 * The key for Node-RED's flow credentials. Left without one, Node-RED generates a key into its runtime
 * settings file (readable by everyone) and warns on every start that the user should set `credentialSecret`
 * "in your settings file", which a Fieldflow user does not have. So Fieldflow keeps the key itself, as it
 * does the key of notification endpoint credentials: FIELDFLOW_CREDENTIAL_SECRET when set, else a key
 * generated once into `<data>/platform/flows.key` (owner-only). Node-RED then has a key of its own
 * choosing and says nothing.
 *
 * A data directory from before this file existed has its key in Node-RED's settings: that key is taken
 * over, so the credentials stay readable (Node-RED drops its copy at the next deploy).
 */
export async function flowCredentialSecret(options: { dataDir: string; userDir: string; secret?: string }): Promise<FlowSecret> {
  const file = path.join(options.dataDir, 'platform', 'flows.key');
  if (options.secret) return { secret: options.secret, file: null, created: false };
  const existing = await readKey(file);
  if (existing !== null) return { secret: existing, file, created: false };
  const nodeRedKey = await nodeRedGeneratedKey(options.userDir);
  const secret = nodeRedKey ?? randomBytes(32).toString('hex');
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    // 'wx': two processes starting at once must not both write a key.
    await fs.writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { secret: (await readKey(file))!, file, created: false };
  }
  return { secret, file, created: secret !== nodeRedKey };
}

async function readKey(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const key = text.trim();
  if (key === '') throw new Error(`${file} holds no key; restore it from a backup (flow credentials cannot be read without it)`);
  return key;
}

/** The key Node-RED generated and kept in its runtime settings, if it did. */
async function nodeRedGeneratedKey(userDir: string): Promise<string | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(userDir, NODE_RED_RUNTIME_SETTINGS), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const key = (JSON.parse(text) as { _credentialSecret?: unknown } | null)?._credentialSecret;
    return typeof key === 'string' && key !== '' ? key : null;
  } catch {
    return null;
  }
}

import fs from 'node:fs/promises';
import path from 'node:path';

/** A simulated device as saved in the state file. */
export interface SimDeviceRecord {
  id: string;
  name: string;
  /** The device token: the file is written readable by its owner only. */
  token: string;
  model: string;
  /** The version the device runs (updated after each install). */
  firmware: string;
}

/** The state file: the devices' credentials and versions, so a second run reuses them. */
export interface SimState {
  version: 1;
  /** The server the devices were created on. */
  url: string;
  /** The platform's OTA public key (PEM), when it has one. */
  signingPublicKey?: string | null;
  devices: SimDeviceRecord[];
}

/** Read the state file; null when there is none. Throws on a file that is not a state file. */
export async function readState(file: string): Promise<SimState | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let state: SimState;
  try {
    state = JSON.parse(text) as SimState;
  } catch {
    throw new Error(`${file} is not JSON; move it away or pass another --state-file`);
  }
  const ok =
    state?.version === 1 &&
    Array.isArray(state.devices) &&
    state.devices.every((d) => typeof d?.id === 'string' && typeof d.token === 'string' && typeof d.name === 'string' && typeof d.firmware === 'string');
  if (!ok) throw new Error(`${file} is not a fieldflow-sim state file (version 1 with devices [{id, name, token, model, firmware}])`);
  return state;
}

/** Write the state file atomically (temporary file, then rename), mode 0600: it holds device tokens. */
export async function writeState(file: string, state: SimState): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await fs.rename(tmp, file);
}

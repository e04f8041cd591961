import os from 'node:os';
import path from 'node:path';

/** Where the simulator keeps its files unless told otherwise: a per-user folder, never the current directory. */
export interface Places {
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  home: string;
}

/** This process's places. */
export const HERE: Places = { env: process.env, platform: process.platform, home: os.homedir() };

/**
 * The per-user folder of the simulator's state files: `$XDG_STATE_HOME/fieldflow/sim` (default
 * `~/.local/state/fieldflow/sim`), `~/Library/Application Support/fieldflow/sim` on macOS,
 * `%LOCALAPPDATA%\fieldflow\sim` on Windows. The state file holds device tokens, so it belongs to the user,
 * not to whatever folder the command was typed in (in the quick start, a git checkout).
 */
export function stateFolder(places: Places = HERE): string {
  const { env, platform, home } = places;
  if (platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'fieldflow', 'sim');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'fieldflow', 'sim');
  // The XDG spec says to ignore a relative path.
  const xdg = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(home, '.local', 'state');
  return path.join(xdg, 'fieldflow', 'sim');
}

/**
 * The default state file for a server: one per server (`localhost-1880.json`), so simulators of two
 * servers never mix up their devices.
 */
export function defaultStateFile(serverUrl: URL, places: Places = HERE): string {
  const port = serverUrl.port || (serverUrl.protocol === 'https:' ? '443' : '80');
  const base = serverUrl.pathname.replace(/\/+$/, '');
  const name = `${serverUrl.hostname}-${port}${base}`.replace(/[^A-Za-z0-9.-]+/g, '_');
  return path.join(stateFolder(places), `${name}.json`);
}

/** Where earlier versions wrote the state file (the current directory); a run that finds one there says how to reuse it. */
export const LEGACY_STATE_FILE = 'fieldflow-sim.json';

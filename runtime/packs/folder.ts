/**
 * Reading a pack from disk: a single JSON file, or a folder with `pack.json` plus the files it
 * points at. No validation beyond what reading needs: the result goes to checkPack like any pack.
 *
 * In a folder, the top-level parts may be given as relative paths to JSON files, and a function
 * node's code as `{"file": "functions/x.js"}`, so that code lives in plain .js files that editors
 * and linters understand. Every path stays inside the folder.
 */

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Errors, type FieldError } from '../errors';
import { DEFAULT_MAX_PACK_BYTES } from './model';
import { OUT_OF_RANGE_MESSAGE, nonFiniteNumberPath } from '../finite-numbers';
import { decodePackText, packJson, packTooLarge } from './decode';

/** The file a pack folder must hold. */
export const PACK_FILE = 'pack.json';

/** The top-level parts that may be the path of a JSON file instead of the part itself. */
export const FILE_PARTS = ['parameters', 'flows', 'models', 'endpoints', 'subscriptions', 'schedules'] as const;

/** The properties of a function node that may be `{"file": "<path>"}`, read as text. */
export const CODE_PROPERTIES = ['func', 'initialize', 'finalize'] as const;

/** How {@link readPackPath} reads. */
export interface ReadPackOptions {
  /** The most bytes read in all (pack.json and every file it points at). Default DEFAULT_MAX_PACK_BYTES. */
  maxBytes?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The pack at `target`, as JSON, with a folder's file references replaced by what they point at.
 * Throws FF_PACK_TOO_LARGE (more than `maxBytes` read), FF_MALFORMED_JSON (the file or pack.json
 * is not JSON), or FF_INVALID_PACK listing every reference that cannot be read, each at the JSON
 * path of the entry that names it: absolute paths, paths or symlinks leading outside the folder,
 * missing files, and referenced files that are not JSON (or not UTF-8 text, for code).
 */
export async function readPackPath(target: string, options: ReadPackOptions = {}): Promise<unknown> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PACK_BYTES;
  const stat = await fs.stat(target).catch(() => null);
  if (!stat) throw invalid(`There is no file or folder at ${target}`);
  if (stat.isDirectory()) return new FolderReader(await fs.realpath(target), maxBytes).read();
  if (!stat.isFile()) throw invalid(`${target} is not a file or folder`);
  // Refused before reading: a file far over the limit is never loaded into memory.
  if (stat.size > maxBytes) throw packTooLarge(stat.size, maxBytes, '/');
  const bytes = await fs.readFile(target);
  if (bytes.length > maxBytes) throw packTooLarge(bytes.length, maxBytes, '/');
  return packJson(bytes);
}

function invalid(message: string): Error {
  return Errors.INVALID_PACK(message, { errors: [{ path: '/', message }] });
}

/** True when `child` is `parent` or inside it. */
function inside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

class FolderReader {
  private readonly problems: FieldError[] = [];
  private total = 0;

  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
  ) {}

  async read(): Promise<unknown> {
    const bytes = await this.file(PACK_FILE, '/');
    if (!bytes) throw this.refusal();
    const pack = packJson(bytes);
    if (!isObject(pack)) return pack;
    for (const part of FILE_PARTS) {
      const ref = pack[part];
      if (typeof ref !== 'string') continue;
      const value = await this.json(ref, `/${part}`);
      if (value !== undefined) pack[part] = value;
    }
    if (Array.isArray(pack.flows)) await this.code(pack.flows);
    if (this.problems.length) throw this.refusal();
    return pack;
  }

  private refusal(): Error {
    return Errors.INVALID_PACK(this.problems.map((p) => `${p.path} ${p.message}`).join('; '), { errors: this.problems });
  }

  /** Function nodes' `{"file": ...}` code properties, replaced by the files' text. */
  private async code(flows: unknown[]): Promise<void> {
    for (const [index, node] of flows.entries()) {
      if (!isObject(node) || node.type !== 'function') continue;
      for (const property of CODE_PROPERTIES) {
        const ref = node[property];
        if (!isObject(ref)) continue;
        const at = `/flows/${index}/${property}`;
        if (typeof ref.file !== 'string' || Object.keys(ref).length !== 1) {
          this.problems.push({ path: at, message: 'must be the code as text, or {"file": "<path relative to the pack folder>"}' });
          continue;
        }
        const bytes = await this.file(ref.file, at);
        if (!bytes) continue;
        const read = decodePackText(bytes, false);
        if (read.ok) node[property] = read.value;
        else this.problems.push({ path: at, message: `"${ref.file}" ${read.message}` });
      }
    }
  }

  private async json(ref: string, at: string): Promise<unknown> {
    const bytes = await this.file(ref, at);
    if (!bytes) return undefined;
    const read = decodePackText(bytes, true);
    if (!read.ok) {
      this.problems.push({ path: at, message: `"${ref}" ${read.message}` });
      return undefined;
    }
    const outOfRange = nonFiniteNumberPath(read.value);
    if (outOfRange === null) return read.value;
    this.problems.push({ path: at, message: `"${ref}" has a number at ${outOfRange} that ${OUT_OF_RANGE_MESSAGE}` });
    return undefined;
  }

  /** The bytes of `ref` inside the folder, or undefined with the problem recorded at `at`. */
  private async file(ref: string, at: string): Promise<Buffer | undefined> {
    const fail = (message: string) => {
      this.problems.push({ path: at, message: `"${ref}" ${message}` });
      return undefined;
    };
    if (ref === '') return fail('is not a path to a file in the pack folder');
    if (path.isAbsolute(ref) || path.win32.isAbsolute(ref)) return fail('is an absolute path; paths are relative to the pack folder');
    const full = path.resolve(this.root, ref);
    if (!inside(this.root, full)) return fail('leads outside the pack folder');
    const real = await fs.realpath(full).catch(() => null);
    if (!real) return fail('does not exist in the pack folder');
    if (!inside(this.root, real)) return fail('is a link leading outside the pack folder');
    const stat = await fs.stat(real);
    if (!stat.isFile()) return fail('is not a file');
    const what = 'The pack folder (pack.json and the files it names)';
    if (this.total + stat.size > this.maxBytes) throw packTooLarge(this.total + stat.size, this.maxBytes, at, what);
    const bytes = await fs.readFile(real);
    this.total += bytes.length;
    if (this.total > this.maxBytes) throw packTooLarge(this.total, this.maxBytes, at, what);
    return bytes;
  }
}

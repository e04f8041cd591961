import { promises as fs } from 'node:fs';
import { Errors, type FieldError } from '../errors';
import { UsageError } from './errors';

/** A parameter value as given: its name as typed, and text (`--param`) or JSON (`--params-file`). */
export interface GivenParam {
  name: string;
  value: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `--param NAME=VALUE` options as name and text; the value may itself contain `=`. */
export function paramOptions(options: string[]): GivenParam[] {
  return options.map((option) => {
    const eq = option.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param needs NAME=VALUE (got ${JSON.stringify(option)})`, 'pack import');
    return { name: option.slice(0, eq).trim(), value: option.slice(eq + 1) };
  });
}

/** A `--params-file`: a JSON object of parameter values, taken as JSON. */
export async function paramsFile(file: string): Promise<GivenParam[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the params file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'pack import');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the params file ${file} is not JSON: ${(err as Error).message}`, 'pack import');
  }
  if (!isObject(value)) throw new UsageError(`the params file ${file} must hold a JSON object of parameter values, such as {"threshold": 80}`, 'pack import');
  return Object.entries(value).map(([name, v]) => ({ name, value: v }));
}

/**
 * Match given names to the pack's parameters: exactly, or else ignoring case when only one
 * parameter fits (`--param threshold=80` sets `THRESHOLD`). Later values win. Throws
 * FF_INVALID_PACK_PARAMETERS for names that match none or several, listing the pack's names.
 * A pack whose `parameters` is malformed gets the names as given: the server reports the schema.
 */
export function matchParams(pack: unknown, given: GivenParam[]): Record<string, unknown> {
  const parameters = isObject(pack) ? pack.parameters : undefined;
  const values: Record<string, unknown> = {};
  if (parameters !== undefined && !(isObject(parameters) && isObject(parameters.properties))) {
    for (const { name, value } of given) values[name] = value;
    return values;
  }
  const names = parameters ? Object.keys(parameters.properties as object) : [];
  const known = names.length ? `its parameters are ${names.join(', ')}` : 'it has no parameters';
  const problems: FieldError[] = [];
  for (const { name, value } of given) {
    const matches = names.includes(name) ? [name] : names.filter((n) => n.toLowerCase() === name.toLowerCase());
    if (matches.length === 1) values[matches[0]] = value;
    else if (matches.length > 1) problems.push({ path: `/parameters/${name}`, message: `matches several parameters of this pack (${matches.join(', ')}); give the exact name` });
    else problems.push({ path: `/parameters/${name}`, message: `is not a parameter of this pack; ${known}` });
  }
  if (problems.length) throw Errors.INVALID_PACK_PARAMETERS(problems.map((p) => `${p.path} ${p.message}`).join('; '), { errors: problems });
  return values;
}

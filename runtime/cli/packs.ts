import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Errors } from '../errors';
import { DEFAULT_MAX_PACK_BYTES } from '../packs/model';
import { readPackPath } from '../packs/folder';
import type { Command, Values } from './command';
import { CancelledError, UsageError } from './errors';
import { matchParams, paramOptions, paramsFile, type GivenParam } from './params';
import { action, packTable, paramsText, planLines, type PackReply, type PlanReply, type RemoveReply } from './render';

const CONNECTION_HELP = `Connection: --url <url> [FIELDFLOW_URL], default http://localhost:1880; credentials from
FIELDFLOW_TOKEN, or FIELDFLOW_USER (default admin) and FIELDFLOW_PASSWORD. See fieldflow --help.`;

const packPath = (id: string) => `/packs/${encodeURIComponent(id)}`;
const text = (v: Values[string]) => (typeof v === 'string' ? v : undefined);
const list = (v: Values[string]) => (Array.isArray(v) ? v : []);

const importCommand: Command = {
  name: 'pack import',
  summary: 'show what a flow pack would change, then import or upgrade it',
  usage: `Usage: fieldflow pack import <file|folder> [options]

Shows what importing the pack would change (the dry run: tabs and nodes added, changed and
removed, and a warning if the pack's tabs were edited since it was installed), asks, then imports
it, or upgrades it in place when a version of it is installed.

<file|folder> is a pack file (JSON), or a folder holding pack.json (see docs/packs.md).

Options:
  --param NAME=VALUE      a parameter value; repeat for each. NAME matches the pack's parameter
                          names ignoring case when only one fits. VALUE is text, converted to the
                          parameter's type; a list is a JSON array or comma-separated items
  --params-file <file>    a JSON object of parameter values (--param values win)
  --dry-run               show what would change, and stop
  --force                 overwrite edits made in the pack's tabs since it was installed
  --allow-downgrade       install a version lower than the installed one
  -y, --yes               do not ask before importing (needed when not run from a terminal)

${CONNECTION_HELP}`,
  options: {
    param: { type: 'string', multiple: true },
    'params-file': { type: 'string' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
    'allow-downgrade': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
  },
  positionals: ['file|folder'],
  hints: {
    FF_PACK_MODIFIED: 'Pass --force to overwrite the edits (the dry run shows them as changed tabs).',
    FF_PACK_DOWNGRADE: 'Pass --allow-downgrade to install the older version.',
  },
  async run(values, [target], { io, api }) {
    const file = text(values['params-file']);
    const given: GivenParam[] = [...(file ? await paramsFile(file) : []), ...paramOptions(list(values.param))];
    if (!(await fs.stat(target).catch(() => null))) throw new UsageError(`there is no file or folder at ${target}`, 'pack import');
    const pack = await readPackPath(target);
    const params = matchParams(pack, given);
    // A folder's code, once escaped into JSON strings, can outgrow the limit its files kept to.
    const size = Buffer.byteLength(JSON.stringify(pack));
    if (size > DEFAULT_MAX_PACK_BYTES) throw Errors.PACK_TOO_LARGE(`The pack is ${size} bytes as JSON; the limit is ${DEFAULT_MAX_PACK_BYTES}`, { errors: [{ path: '/', message: `is ${size} bytes as JSON` }] });
    const body = { pack, params, force: values.force === true, allowDowngrade: values['allow-downgrade'] === true };

    const plan = (await api.post<PlanReply>('/packs/dry-run', body)).body;
    io.out(planLines(plan).join('\n'));
    if (plan.modified) {
      io.err(`warning: the tabs of ${plan.id} were edited since ${plan.from} was installed; importing overwrites those edits${values.force ? '' : ', and needs --force'}`);
    }
    if (values['dry-run']) return;
    // Without --force the server refuses edited tabs: it says so itself, so there is nothing to ask.
    const refusedAnyway = plan.modified && !values.force;
    if (!refusedAnyway && values.yes !== true && !(await io.confirm(`${capitalise(action(plan))} of ${plan.id}?`, 'pack import'))) throw new CancelledError();
    const installed = (await api.post<PackReply>('/packs', body)).body;
    io.out(`Imported ${installed.id} ${installed.version}${plan.from === null ? '' : ` (was ${plan.from})`}: ${installed.nodes} nodes; parameters ${paramsText(installed.params)}.`);
  },
};

const listCommand: Command = {
  name: 'pack list',
  summary: 'the installed packs',
  usage: `Usage: fieldflow pack list [--json]

Lists the installed packs: id, name, version, when and by whom it was installed, and the earlier
versions a rollback can return to (newest first).

Options:
  --json   the packs as the REST API returns them (GET /api/v1/packs), as a JSON array

${CONNECTION_HELP}`,
  options: { json: { type: 'boolean' } },
  positionals: [],
  async run(values, _positionals, { io, api }) {
    const { items } = (await api.get<{ items: PackReply[] }>('/packs')).body;
    io.out(values.json ? JSON.stringify(items, null, 2) : packTable(items).join('\n'));
  },
};

const rollbackCommand: Command = {
  name: 'pack rollback',
  summary: "deploy a pack's previous version again, with its parameters",
  usage: `Usage: fieldflow pack rollback <id> [--force]

Deploys the previous version of the pack again, with the parameters it had.

Options:
  --force   overwrite edits made in the pack's tabs since it was installed

${CONNECTION_HELP}`,
  options: { force: { type: 'boolean' } },
  positionals: ['id'],
  hints: { FF_PACK_MODIFIED: 'Pass --force to overwrite the edits.' },
  async run(values, [id], { io, api }) {
    const pack = (await api.post<PackReply>(`${packPath(id)}/rollback`, { force: values.force === true })).body;
    io.out(`Rolled back ${pack.id} to ${pack.version}: ${pack.nodes} nodes; parameters ${paramsText(pack.params)}.`);
  },
};

const removeCommand: Command = {
  name: 'pack remove',
  summary: "delete a pack's tabs, the resources it created, and its record",
  usage: `Usage: fieldflow pack remove <id> [--yes]

Deletes the pack's tabs and subflows and its record (with its earlier versions). Other flows are
left as they are.

Options:
  -y, --yes   do not ask first (needed when not run from a terminal)

${CONNECTION_HELP}`,
  options: { yes: { type: 'boolean', short: 'y' } },
  positionals: ['id'],
  async run(values, [id], { io, api }) {
    const pack = (await api.get<PackReply>(packPath(id))).body;
    if (values.yes !== true && !(await io.confirm(`Remove ${pack.id} (${pack.name} ${pack.version}, ${pack.nodes} nodes)?`, 'pack remove'))) throw new CancelledError();
    const kept = (await api.delete<RemoveReply | undefined>(packPath(id))).body?.kept ?? [];
    const resources = pack.resources?.length ? ` and ${pack.resources.length} resources` : '';
    io.out(`Removed ${pack.id} ${pack.version}: its ${pack.nodes} nodes${resources}.`);
    for (const k of kept) io.err(`warning: kept ${k.kind} ${JSON.stringify(k.name)}: ${k.reason}`);
  },
};

const exportCommand: Command = {
  name: 'pack export',
  summary: 'make a pack file of tabs',
  usage: `Usage: fieldflow pack export --tab <id|label> [--tab ...] --id <pack id> --name <name> --version <semver> [options]

Makes a pack file of the given tabs (with what they use), for import elsewhere.

Options:
  --tab <id|label>       a tab to put in the pack, by id or label; repeat for each
  --id <pack id>         the pack's id, reverse-DNS style: com.example.my-pack
  --name <name>          the pack's name
  --version <semver>     the pack's version, such as 1.0.0
  --description <text>   what it does
  --author <text>        who made it
  -o, --output <file>    write the pack there (default: standard output)

${CONNECTION_HELP}`,
  options: {
    tab: { type: 'string', multiple: true },
    id: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    description: { type: 'string' },
    author: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  positionals: [],
  async run(values, _positionals, { io, api }) {
    const tabs = list(values.tab);
    const missing = ['tab', 'id', 'name', 'version'].filter((k) => (k === 'tab' ? !tabs.length : !text(values[k])));
    if (missing.length) throw new UsageError(`pack export needs ${missing.map((k) => `--${k}`).join(', ')}`, 'pack export');
    const manifest: Record<string, string> = { id: text(values.id)!, name: text(values.name)!, version: text(values.version)! };
    for (const k of ['description', 'author']) if (text(values[k]) !== undefined) manifest[k] = text(values[k])!;
    const pack = (await api.post<{ flows?: unknown[] }>('/packs/export', { tabs, manifest })).body;
    const json = `${JSON.stringify(pack, null, 2)}\n`;
    const output = text(values.output);
    if (!output) {
      io.out(json);
      return;
    }
    // Written next to the target and renamed, so a failed write never leaves half a pack file.
    const temp = path.join(path.dirname(output), `.${path.basename(output)}.${process.pid}.tmp`);
    try {
      await fs.writeFile(temp, json);
      await fs.rename(temp, output);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw new UsageError(`cannot write ${output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'pack export');
    }
    const nodes = Array.isArray(pack.flows) ? pack.flows.length : 0;
    io.out(`Exported ${manifest.id} ${manifest.version} (${tabs.length} tab${tabs.length === 1 ? '' : 's'}, ${nodes} nodes) to ${output}.`);
  },
};

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The `fieldflow pack ...` commands, in the order the help lists them. */
export const packCommands: Command[] = [importCommand, listCommand, rollbackCommand, removeCommand, exportCommand];

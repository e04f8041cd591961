/**
 * `fieldflow`: the command line of a running server. It is a client of the REST API, so a pack
 * imported here goes through the same PackService as one imported over REST or in the editor.
 */

import { parseArgs } from 'node:util';
import { isFieldflowError } from '../errors';
import { FIELDFLOW_VERSION } from '../version';
import { ApiClient, serverUrl } from './client';
import { processIo, type Command, type Io } from './command';
import { CancelledError, ConnectionError, EXIT, UsageError } from './errors';
import { packCommands } from './packs';

const DEFAULT_URL = 'http://localhost:1880';

const commandList = (commands: Command[]) => commands.map((c) => `  ${c.name.padEnd(16)}${c.summary}`).join('\n');

const USAGE = `Usage: fieldflow <command> [options]

Works with a running Fieldflow server through its REST API.

Commands:
${commandList(packCommands)}

Options:
  --url <url>       the server [FIELDFLOW_URL]; default ${DEFAULT_URL}
  -h, --help        this text; after a command, that command's help (fieldflow pack import --help)
  -v, --version     the version of this command

Credentials come from the environment only, so they never show in the process list:
  FIELDFLOW_TOKEN      an API token (POST /api/v1/auth/token); or
  FIELDFLOW_USER       the user to log in as (default admin), and
  FIELDFLOW_PASSWORD   its password; FIELDFLOW_ADMIN_PASSWORD, which the server reads, also works.
A token the command logs in for is revoked when it ends.

Exit codes:
  0  done
  1  refused: the server said no, or the pack file was refused before sending, with the server's code
  2  the command line is wrong, or no credentials are set; nothing was sent
  3  the server could not be reached, or what answered is not a Fieldflow server
  4  cancelled at a confirmation; nothing was changed`;

const PACK_USAGE = `Usage: fieldflow pack <command> [options]

Flow packs (docs/packs.md): import and upgrade them, list, roll back, remove and export.

Commands:
${commandList(packCommands)}

Run fieldflow pack <command> --help for a command's options.`;

/**
 * Run the command line `argv` (without `node` and the script) and return the exit code (see
 * {@link EXIT}). Every failure is reported on `io.err`, never thrown.
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const chosen: { command?: Command } = {};
  try {
    return await dispatch(argv, io, chosen);
  } catch (err) {
    return report(err, io, chosen.command);
  }
}

async function dispatch(argv: string[], io: Io, chosen: { command?: Command }): Promise<number> {
  const args = [...argv];
  // `--url` may also come before the command, as in `fieldflow --url http://host:1880 pack list`.
  const leading: string[] = [];
  while (args[0] === '--url' || args[0]?.startsWith('--url=')) leading.push(...args.splice(0, args[0] === '--url' ? 2 : 1));
  const [group, name, ...rest] = args;
  if (group === '-v' || group === '--version') {
    io.out(FIELDFLOW_VERSION);
    return EXIT.OK;
  }
  if (group === undefined || group === '-h' || group === '--help' || group === 'help') {
    if (group === undefined) throw new UsageError('no command given');
    io.out(USAGE);
    return EXIT.OK;
  }
  if (group !== 'pack') throw new UsageError(`unknown command ${JSON.stringify(group)}; the commands are: ${packCommands.map((c) => c.name).join(', ')}`);
  if (name === undefined || name === '-h' || name === '--help') {
    if (name === undefined) throw new UsageError('pack needs a command', 'pack');
    io.out(PACK_USAGE);
    return EXIT.OK;
  }
  const command = packCommands.find((c) => c.name === `pack ${name}`);
  if (!command) throw new UsageError(`unknown command "pack ${name}"; the pack commands are: ${packCommands.map((c) => c.name.slice(5)).join(', ')}`, 'pack');
  chosen.command = command;

  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...leading, ...rest],
      options: { ...command.options, url: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message, command.name);
  }
  if (parsed.values.help) {
    io.out(command.usage);
    return EXIT.OK;
  }
  const expected = command.positionals;
  if (parsed.positionals.length !== expected.length) {
    const wanted = expected.length ? expected.map((p) => `<${p}>`).join(' ') : 'no arguments';
    throw new UsageError(`${command.name} takes ${wanted}${parsed.positionals.length ? ` (got ${parsed.positionals.map((p) => JSON.stringify(p)).join(' ')})` : ''}`, command.name);
  }

  const env = io.env;
  const api = new ApiClient({
    url: serverUrl(typeof parsed.values.url === 'string' ? parsed.values.url : env.FIELDFLOW_URL || DEFAULT_URL),
    token: env.FIELDFLOW_TOKEN || undefined,
    user: env.FIELDFLOW_USER || 'admin',
    password: env.FIELDFLOW_PASSWORD || env.FIELDFLOW_ADMIN_PASSWORD || undefined,
  });
  try {
    await command.run(parsed.values, parsed.positionals, { io, api });
  } finally {
    await api.close();
  }
  return EXIT.OK;
}

/** Print a failure on stderr and choose its exit code. */
function report(err: unknown, io: Io, command: Command | undefined): number {
  if (err instanceof UsageError) {
    io.err(`fieldflow: ${err.message}\nRun fieldflow ${err.command ? `${err.command} ` : ''}--help for usage.`);
    return EXIT.USAGE;
  }
  if (err instanceof ConnectionError) {
    io.err(`fieldflow: ${err.message}`);
    return EXIT.UNREACHABLE;
  }
  if (err instanceof CancelledError) {
    io.err(err.message);
    return EXIT.CANCELLED;
  }
  if (isFieldflowError(err)) {
    const lines = [`fieldflow: ${err.code}: ${err.message}`, ...(err.errors ?? []).map((e) => `  at ${e.path}: ${e.message}`)];
    const hint = command?.hints?.[err.code] ?? credentialsHint(err.code);
    if (hint) lines.push(hint);
    io.err(lines.join('\n'));
    return EXIT.REFUSED;
  }
  io.err(`fieldflow: unexpected failure: ${(err as Error)?.message ?? String(err)}`);
  return EXIT.REFUSED;
}

function credentialsHint(code: string): string | undefined {
  if (code !== 'FF_AUTH_INVALID' && code !== 'FF_AUTH_REQUIRED') return undefined;
  return 'The credentials come from FIELDFLOW_TOKEN, or FIELDFLOW_USER (default admin) and FIELDFLOW_PASSWORD (or FIELDFLOW_ADMIN_PASSWORD).';
}

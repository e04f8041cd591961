import readline from 'node:readline/promises';
import type { ParseArgsConfig } from 'node:util';
import type { ApiClient } from './client';
import { UsageError } from './errors';

/** What a command writes to and reads from: the process's streams, kept apart so output stays clean. */
export interface Io {
  /** Results: what a script captures (a table, a pack file). */
  out(text: string): void;
  /** Warnings, errors and questions. */
  err(text: string): void;
  /**
   * Ask a yes/no question on the terminal. Throws a UsageError naming `--yes` when there is no
   * terminal to ask on, so a script never hangs on a prompt or goes ahead unasked.
   */
  confirm(question: string, command: string): Promise<boolean>;
  env: NodeJS.ProcessEnv;
}

/** The option values parseArgs returns for a command. */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** What a command runs with. */
export interface Context {
  io: Io;
  /** The REST client; it logs in on its first request. */
  api: ApiClient;
}

/** One `fieldflow <group> <name>` command: its options, its help, and what it does. */
export interface Command {
  /** As typed after `fieldflow`, such as `pack import`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The `--help` text. */
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** The names of the positional arguments it takes, all required. */
  positionals: string[];
  /** What to suggest after the server refuses with a given code. */
  hints?: Record<string, string>;
  run(values: Values, positionals: string[], ctx: Context): Promise<void>;
}

/**
 * Control characters other than tab and newline: pack names and server messages are printed, and
 * an escape sequence in one could rewrite what the terminal shows above a confirmation.
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const line = (text: string) => (text.endsWith('\n') ? text : `${text}\n`).replace(CONTROL, '');

/** The real process's streams and environment. */
export function processIo(): Io {
  return {
    out: (text) => void process.stdout.write(line(text)),
    err: (text) => void process.stderr.write(line(text)),
    async confirm(question, command) {
      if (!process.stdin.isTTY) throw new UsageError(`${question} Not asked, as there is no terminal: pass --yes to go ahead`, command);
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
      } finally {
        rl.close();
      }
    },
    env: process.env,
  };
}

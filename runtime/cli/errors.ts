/**
 * How the `fieldflow` command fails, and the exit code of each kind of failure. Refusals of a pack
 * or a request carry the server's catalog error (a FieldflowError), whether the server or the CLI's
 * own local check refused: the codes are the same either way.
 */

/** The exit codes, documented in docs/packs.md ("Command line") and in `fieldflow --help`. */
export const EXIT = {
  OK: 0,
  /** The server refused the request, or the pack file was refused locally with the server's code. */
  REFUSED: 1,
  /** The command line (or the environment it reads) is wrong; nothing was sent. */
  USAGE: 2,
  /** The server could not be reached, or what answered is not a Fieldflow API. */
  UNREACHABLE: 3,
  /** The user answered no at a confirmation; nothing was changed. */
  CANCELLED: 4,
} as const;

/** A command line that cannot be run; it is printed with a pointer to the command's help. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose `--help` to point at, such as `pack import`. */
    readonly command = '',
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The server could not be reached, or did not answer as the Fieldflow API does. */
export class ConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** The user declined a confirmation. */
export class CancelledError extends Error {
  constructor() {
    super('Cancelled; nothing was changed.');
    this.name = 'CancelledError';
  }
}

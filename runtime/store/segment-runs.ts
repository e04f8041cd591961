/**
 * A segment (one group commit) costs about 744 bytes of heap before its messages, so a fleet at normal rates, which
 * writes about one message per commit, pays that per message. The log therefore merges runs of small segments into
 * one once there are enough of them. This tracks the runs: per file, the small segments written (or loaded) one after
 * another, in write order. A run must be contiguous in its file (nothing else written between its first and last
 * segment), because a merged segment keeps its first segment's id and so its place in the file; a larger segment
 * ends the run.
 */

/**
 * A segment with fewer messages than this is small. Merging costs about 5 µs of CPU per message (NeDB copies and
 * serialises the merged document), so it is kept for writes whose fixed cost is over half a message's own (86 bytes):
 * a loaded server writes 16 to 256 messages per commit and merges nothing.
 */
export const SMALL_SEGMENT = 16;
/** A run is merged once it holds this many messages... */
export const MERGE_MESSAGES = 1024;
/** ...or this many characters of text. */
export const MERGE_CHARS = 1024 * 1024;
/** A run ended by a larger segment is merged only if it holds this many messages: a merge has a fixed cost too. */
export const MERGE_MIN = 64;

interface Run<S> {
  segments: S[];
  messages: number;
  chars: number;
}

export class SmallRuns<S extends { total: number; t: string }> {
  private readonly runs = new Map<unknown, Run<S>>();

  /**
   * Note a segment added to `file`, after every earlier one of that file. Returns a run that is now due for
   * merging, or null.
   */
  add(file: unknown, segment: S): S[] | null {
    let run = this.runs.get(file);
    if (segment.total >= SMALL_SEGMENT) {
      this.runs.delete(file);
      return run && run.segments.length > 1 && run.messages >= MERGE_MIN ? run.segments : null;
    }
    if (!run) this.runs.set(file, (run = { segments: [], messages: 0, chars: 0 }));
    run.segments.push(segment);
    run.messages += segment.total;
    run.chars += segment.t.length;
    if (run.messages < MERGE_MESSAGES && run.chars < MERGE_CHARS) return null;
    this.runs.delete(file);
    return run.segments;
  }
}

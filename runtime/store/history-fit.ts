import fs from 'node:fs';
import path from 'node:path';
import { Errors } from '../errors';
import type { Logger } from '../log';
import { idToTime } from '../ids/snowflake';
import { DEFAULT_BUDGET_SHARE, RESERVED_HEAP_BYTES, TRIM_TARGET_RATIO, mib } from './memory-model';
import { forEachLine, lineId, scanMessageFile, type FileScan } from './history-scan';
import type { MemoryOptions } from './memory-budget';

/**
 * A history up to this share over its budget is loaded and then trimmed like one that grew there while running
 * (a process can stop between passing the budget and the trim that follows).
 */
export const START_SLACK = 1.1;
/** Whatever the budget says, the history must leave this share of the heap to the rest of the process. */
export const MAX_HEAP_SHARE = 0.8;

export interface FitOptions extends MemoryOptions {
  heapLimitBytes: number;
}

/** The oldest segments to delete, across files: everything below `cutoff` (an exclusive id bound, 19 digits). */
interface Cut {
  cutoff: string;
  messages: number;
  bytes: number;
  /** Every message would go. */
  all: boolean;
}

/**
 * Before the message files are loaded: estimate from them what the history will take on the heap. If it does not
 * fit, refuse to start with what to do about it, or (with trimOnStart) delete the oldest segments from the files
 * until it fits. Loading a history that does not fit would end in "JavaScript heap out of memory", at every
 * restart.
 */
export function fitHistory(files: string[], options: FitOptions, log: Logger): void {
  const scans = files.map(scanMessageFile);
  const estimated = sum(scans, (s) => s.estimatedBytes);
  const messages = sum(scans, (s) => s.messages);
  if (options.configured && options.budgetBytes > options.heapLimitBytes - RESERVED_HEAP_BYTES) {
    log.warn(`FIELDFLOW_MEMORY_BUDGET_MB leaves the rest of the server less than ${mib(RESERVED_HEAP_BYTES)} of the heap; it may run out of memory before the budget is reached. Raise the heap limit (--max-old-space-size) or lower the budget`, {
      budgetMB: toMb(options.budgetBytes),
      heapLimitMB: toMb(options.heapLimitBytes),
    });
  }
  const limit = Math.min(options.budgetBytes * START_SLACK, options.heapLimitBytes * MAX_HEAP_SHARE);
  if (messages > 0) {
    log.info('message history', { messages, writes: sum(scans, (s) => s.segments), estimatedMB: toMb(estimated), budgetMB: toMb(options.budgetBytes) });
  }
  if (estimated <= limit) return;
  const target = Math.min(options.budgetBytes, options.heapLimitBytes * MAX_HEAP_SHARE) * TRIM_TARGET_RATIO;
  const cut = oldestCut(scans, estimated - target);
  if (!options.trimOnStart) throw Errors.HISTORY_TOO_LARGE(refusal(scans, estimated, cut, options));
  for (const scan of scans) removeBelow(scan.file, cut.cutoff);
  log.warn('the message history did not fit its memory budget: deleted its oldest messages before loading it (FIELDFLOW_MEMORY_TRIM_ON_START)', {
    deleted: cut.messages,
    before: cut.all ? null : new Date(idToTime(cut.cutoff)).toISOString(),
    kept: messages - cut.messages,
    estimatedMB: toMb(estimated - cut.bytes),
    budgetMB: toMb(options.budgetBytes),
  });
}

/** Walk the files' segments oldest first (they are each in id order) until they hold `bytes`. */
function oldestCut(scans: FileScan[], bytes: number): Cut {
  const next = scans.map(() => 0);
  let freed = 0;
  let messages = 0;
  for (;;) {
    let pick = -1;
    let pickId = '';
    for (let f = 0; f < scans.length; f++) {
      if (next[f] >= scans[f].table.length) continue;
      const id = scans[f].table.idAt(next[f]);
      if (pick < 0 || id < pickId) {
        pick = f;
        pickId = id;
      }
    }
    if (pick < 0) return { cutoff: '9'.repeat(19), messages, bytes: freed, all: true };
    if (freed >= bytes) return { cutoff: pickId, messages, bytes: freed, all: false };
    const table = scans[pick].table;
    freed += table.bytesAt(next[pick]);
    messages += table.messagesAt(next[pick]);
    next[pick]++;
  }
}

/**
 * Rewrite a message file without the segments (and removals of segments) below `cutoff`, the way NeDB rewrites
 * its files: into `<file>~`, flushed, then renamed over the file, so a crash leaves one or the other whole.
 */
function removeBelow(file: string, cutoff: string): void {
  if (!fs.existsSync(file)) return;
  const hi = Number(cutoff.slice(0, 10));
  const lo = Number(cutoff.slice(10));
  const temp = file + '~';
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    const out = Buffer.allocUnsafe(1024 * 1024);
    let used = 0;
    const write = (buf: Buffer, start: number, end: number) => {
      if (used + (end - start) > out.length) {
        fs.writeSync(fd, out, 0, used);
        used = 0;
      }
      if (end - start > out.length) fs.writeSync(fd, buf, start, end - start);
      else used += buf.copy(out, used, start, end);
    };
    const newline = Buffer.from('\n');
    forEachLine(file, (buf, start, end) => {
      const id = lineId(buf, start, end);
      if (id && (id.hi < hi || (id.hi === hi && id.lo < lo))) return;
      write(buf, start, end);
      write(newline, 0, 1);
    });
    fs.writeSync(fd, out, 0, used);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

function refusal(scans: FileScan[], estimated: number, cut: Cut, options: FitOptions): string {
  const messages = sum(scans, (s) => s.messages);
  const heapBound = options.budgetBytes * START_SLACK > options.heapLimitBytes * MAX_HEAP_SHARE;
  const over = heapBound
    ? `more than ${MAX_HEAP_SHARE * 100}% of the ${mib(options.heapLimitBytes)} heap limit`
    : options.configured
      ? `more than its memory budget, FIELDFLOW_MEMORY_BUDGET_MB=${toMb(options.budgetBytes)}`
      : `more than its memory budget of ${mib(options.budgetBytes)} (by default, half of what the ${mib(options.heapLimitBytes)} heap limit leaves after ${mib(RESERVED_HEAP_BYTES)} for the rest of the server)`;
  // Enough for the history to sit below the warning level, rounded up.
  const budgetMb = roundUp(toMb(estimated / 0.75), 100);
  const heapMb = roundUp(Math.max(budgetMb / DEFAULT_BUDGET_SHARE + toMb(RESERVED_HEAP_BYTES), toMb(options.heapLimitBytes)), 512);
  const raiseBudget = budgetMb * 2 ** 20 <= options.heapLimitBytes - RESERVED_HEAP_BYTES ? `, or set FIELDFLOW_MEMORY_BUDGET_MB=${budgetMb}` : '';
  const deleted = cut.all
    ? `all ${messages.toLocaleString('en-US')} messages`
    : `the oldest ${cut.messages.toLocaleString('en-US')} messages (written before ${new Date(idToTime(cut.cutoff)).toISOString()}), keeping the newest ${(messages - cut.messages).toLocaleString('en-US')}`;
  return [
    `The stored message history (${messages.toLocaleString('en-US')} messages in ${path.dirname(scans[0].file)}) needs about ${mib(estimated)} of memory, ${over}.`,
    'It was not loaded, so that Fieldflow does not run out of memory. Any one of these lets it start:',
    `  - give it more memory: NODE_OPTIONS=--max-old-space-size=${heapMb} (the default budget follows the heap limit)${raiseBudget};`,
    `  - delete old messages: FIELDFLOW_MEMORY_TRIM_ON_START=true deletes ${deleted}; lower the retention (FIELDFLOW_RETENTION_DAYS, FIELDFLOW_RETENTION_MAX_COUNT) so it does not grow back;`,
    '  - keep the history on disk instead: PostgreSQL (FIELDFLOW_DATABASE_URL), in a later release.',
  ].join('\n');
}

function sum(scans: FileScan[], of: (s: FileScan) => number): number {
  return scans.reduce((n, s) => n + of(s), 0);
}

function toMb(bytes: number): number {
  return Math.ceil(bytes / 2 ** 20);
}

function roundUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}

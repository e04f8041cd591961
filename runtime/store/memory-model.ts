import v8 from 'node:v8';

/**
 * The memory model of the NeDB message log: what a segment (the messages of one group commit) costs on the heap,
 * as a fixed cost per segment, a cost per message and the bytes of its JSON texts. Measured with
 * `npm run bench:memory` (Node 20, heap plus typed arrays after garbage collection, on a running server):
 *
 * - one message per commit (a fleet at normal rates), before the log merges such segments: about 830 bytes + the
 *   payload per message;
 * - 1,000 messages per commit (or merged): about 86 bytes + the payload per message.
 *
 * The fixed cost is NeDB's document (an object, three arrays, the id, key and stream strings), its node in NeDB's
 * id tree and the log's own record of the segment. The per-message cost is an id in the key string, two array
 * slots and the index row (20 bytes in typed arrays). After a restart the same data takes about 10% less (the
 * segments NeDB read back share arrays the log would otherwise copy): the model keeps the running figures.
 */
export const SEGMENT_BYTES = 744;
export const MESSAGE_BYTES = 86;

/**
 * Heap the rest of a server needs, whatever its history: V8's young generation (48 MB on 64-bit Node, part of the
 * heap limit but no room for data that stays) and the server itself (36 MB for Node-RED, the broker and the
 * platform with no flows, measured), with room for flows and connections.
 */
export const RESERVED_HEAP_BYTES = 128 * 2 ** 20;
/** Default budget: this share of V8's heap limit (`--max-old-space-size`, else Node's default for the machine) less the reserve. */
export const DEFAULT_BUDGET_SHARE = 0.5;
/** The smallest default budget, for a heap limit that leaves nothing after the reserve. */
const MIN_DEFAULT_BUDGET_BYTES = 8 * 2 ** 20;
/** The history warns at this share of its budget... */
export const WARN_RATIO = 0.8;
/** ...and warns again only after falling below this one, so a store hovering near the line warns once. */
export const REARM_RATIO = 0.7;
/** Trimming for the budget goes down to this share of it, so it does not run again with the next message. */
export const TRIM_TARGET_RATIO = 0.95;

export type MemoryState = 'ok' | 'warn' | 'full';

/** The store's memory against its budget: what readiness and metrics show. */
export interface MemoryUsage {
  /** The budget for retained messages, in bytes (FIELDFLOW_MEMORY_BUDGET_MB, or a share of the heap limit). */
  budgetBytes: number;
  /** What the retained messages take on the heap now, by the memory model. */
  estimatedBytes: number;
  /** estimatedBytes / budgetBytes. */
  ratio: number;
  /** `warn` from 80% of the budget, `full` from 100% (the oldest messages are then being trimmed). */
  state: MemoryState;
}

/** Heap bytes of a segment holding `messages` messages whose texts take `textBytes` bytes. */
export function segmentBytes(messages: number, textBytes: number): number {
  return SEGMENT_BYTES + MESSAGE_BYTES * messages + textBytes;
}

/**
 * Bytes a string takes on the heap. V8 keeps a string in one byte per character when every character fits (Latin-1)
 * and in two otherwise; a segment's texts are one string, so one such character doubles the whole segment's texts.
 */
export function stringBytes(s: string): number {
  return TWO_BYTE.test(s) ? 2 * s.length : s.length;
}

const TWO_BYTE = /[^\u0000-\u00ff]/;

/** V8's heap limit for this process, in bytes. */
export function heapLimitBytes(): number {
  return v8.getHeapStatistics().heap_size_limit;
}

/**
 * The budget in force: the configured one, or half of what the heap limit leaves after the reserve (2,008 MB of
 * Node's default 4,144 MB limit on a 64-bit machine with 16 GB or more).
 */
export function resolveBudgetBytes(configured: number | null | undefined, heapLimit = heapLimitBytes()): number {
  return configured ?? Math.max(MIN_DEFAULT_BUDGET_BYTES, Math.floor((heapLimit - RESERVED_HEAP_BYTES) * DEFAULT_BUDGET_SHARE));
}

export function stateOf(ratio: number): MemoryState {
  return ratio >= 1 ? 'full' : ratio >= WARN_RATIO ? 'warn' : 'ok';
}

/**
 * The running total of the model over the segments in memory, kept as they are added and removed, so reading it
 * costs nothing (no heap snapshot, no walk over the segments).
 */
export class Footprint {
  segments = 0;
  messages = 0;
  estimatedBytes = 0;
  /** Of estimatedBytes, what segments whose messages are all trimmed still hold until the log deletes them. */
  reclaimableBytes = 0;

  add(messages: number, bytes: number): void {
    this.segments++;
    this.messages += messages;
    this.estimatedBytes += bytes;
  }

  remove(messages: number, bytes: number): void {
    this.segments--;
    this.messages -= messages;
    this.estimatedBytes -= bytes;
  }

  /** What the estimate will be once trimmed segments are deleted: what trimming must act on. */
  get projectedBytes(): number {
    return this.estimatedBytes - this.reclaimableBytes;
  }
}

/** Bytes as whole MiB, for messages to operators. */
export function mib(bytes: number): string {
  const mb = bytes / 2 ** 20;
  return `${mb < 10 ? mb.toFixed(2) : Math.round(mb).toLocaleString('en-US')} MB`;
}

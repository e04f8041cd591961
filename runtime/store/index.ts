import path from 'node:path';
import { NedbCollection, type Collection } from './collection';
import { NedbMessageLog, type MessageLog } from './message-log';
import type { Logger } from '../log';
import { nodeIo, type DataFileOptions, type FsyncMode, type StoreIo } from './data-file';
import { createWriteHealth, type WriteHealth } from './write-health';
import type { MemoryOptions } from './memory-budget';

export type { Collection } from './collection';
export type { MessageLog, LogRecord, LogRange, StreamStats } from './message-log';
export type { FsyncMode, StoreIo } from './data-file';
export type { WriteHealth, WriteFailure } from './write-health';

/**
 * The storage interface the services see. Each service opens the collections it owns; the
 * message log is shared. Another backend implements this and nothing above it changes.
 */
export interface Store {
  collection<T extends { _id: string }>(name: string): Promise<Collection<T>>;
  readonly messages: MessageLog;
  /** Where the services that write in the background (and retry) report how their writes go. */
  readonly writeHealth: WriteHealth;
  open(): Promise<void>;
  close(): Promise<void>;
}

export interface NedbStoreOptions {
  /** Directory for the data files; null keeps everything in memory (tests). */
  dir: string | null;
  /** How many files the message log is spread over. */
  messageShards: number;
  /** Whether appends are followed by fdatasync (default off). */
  fsync?: FsyncMode;
  /** The file operations to write with (node:fs unless a test injects faults). */
  io?: StoreIo;
  /** Where background writers report failures (default: a new one on this store's logger). */
  writeHealth?: WriteHealth;
  /** After each durable message log write: how many messages it held and how long it took (metrics). */
  onCommit?: (messages: number, seconds: number) => void;
  /** The message log's memory budget; by default derived from the heap limit (memory-model.ts). */
  memory?: MemoryOptions;
}

export class NedbStore implements Store {
  readonly messages: MessageLog;
  readonly writeHealth: WriteHealth;
  private readonly files: DataFileOptions;
  private readonly opened: NedbCollection<any>[] = [];

  constructor(
    private readonly options: NedbStoreOptions,
    private readonly log: Logger,
  ) {
    const dir = options.dir === null ? null : path.join(options.dir, 'messages');
    this.files = { fsync: options.fsync ?? 'off', io: options.io ?? nodeIo() };
    this.writeHealth = options.writeHealth ?? createWriteHealth(log);
    this.messages = new NedbMessageLog(dir, options.messageShards, log, { files: this.files, writeHealth: this.writeHealth, onCommit: options.onCommit }, options.memory);
  }

  async open(): Promise<void> {
    await this.messages.open();
  }

  async collection<T extends { _id: string }>(name: string): Promise<Collection<T>> {
    const collection = await NedbCollection.open<T>(this.options.dir, `${name}.db`, this.files, this.log);
    this.opened.push(collection);
    return collection;
  }

  async close(): Promise<void> {
    await this.messages.close();
    for (const c of this.opened) await c.settle();
  }
}

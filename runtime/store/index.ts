import path from 'node:path';
import { NedbCollection, type Collection } from './collection';
import { NedbMessageLog, type MessageLog } from './message-log';
import type { Logger } from '../log';
import type { MemoryOptions } from './memory-budget';

export type { Collection } from './collection';
export type { MessageLog, LogRecord, LogRange, StreamStats } from './message-log';

/**
 * The storage interface the services see. Each service opens the collections it owns; the
 * message log is shared. Another backend implements this and nothing above it changes.
 */
export interface Store {
  collection<T extends { _id: string }>(name: string): Promise<Collection<T>>;
  readonly messages: MessageLog;
  open(): Promise<void>;
  close(): Promise<void>;
}

export interface NedbStoreOptions {
  /** Directory for the data files; null keeps everything in memory (tests). */
  dir: string | null;
  /** How many files the message log is spread over. */
  messageShards: number;
  /** The message log's memory budget; by default derived from the heap limit (memory-model.ts). */
  memory?: MemoryOptions;
}

export class NedbStore implements Store {
  readonly messages: MessageLog;
  private readonly opened: NedbCollection<any>[] = [];

  constructor(
    private readonly options: NedbStoreOptions,
    private readonly log: Logger,
  ) {
    const dir = options.dir === null ? null : path.join(options.dir, 'messages');
    this.messages = new NedbMessageLog(dir, options.messageShards, log, options.memory);
  }

  async open(): Promise<void> {
    await this.messages.open();
  }

  async collection<T extends { _id: string }>(name: string): Promise<Collection<T>> {
    const collection = await NedbCollection.open<T>(this.options.dir, `${name}.db`, this.log);
    this.opened.push(collection);
    return collection;
  }

  async close(): Promise<void> {
    await this.messages.close();
    for (const c of this.opened) await c.settle();
  }
}

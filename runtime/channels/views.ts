import type { ChannelInfo, MessageItem, PublishResult } from './service';
import { iso } from '../views';


export function channelView(c: ChannelInfo) {
  return {
    name: c.name,
    messageCount: c.messageCount,
    firstMessageAt: iso(c.firstMessageAt),
    lastMessageAt: iso(c.lastMessageAt),
    retention: { ...c.retention },
    retentionOverrides: { ...c.retentionOverrides },
  };
}

export function messageView(m: MessageItem) {
  return { id: m.id, ts: iso(m.ts), data: m.data };
}

export function aggregateView(a: { data: unknown; updatedAt: number | null; lastMessageId: string | null }) {
  return { data: a.data, updatedAt: iso(a.updatedAt), lastMessageId: a.lastMessageId };
}

export function publishedView(r: PublishResult) {
  return { id: r.id, ts: iso(r.ts) };
}

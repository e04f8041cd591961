import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { CronJob } from '../../runtime/schedule/service';
import { copy, platformOf, showError } from '../lib/common';

interface ScheduleDef extends NodeDef {
  /** cron: the node's own job; stored: runs of a stored (REST) schedule, picked by name. */
  mode: 'cron' | 'stored';
  cron: string;
  timezone: string;
  payload: string;
  /** date: the time the run was due (payload '' ms, 'iso' or 'object'); json, str, num, bool: the node's payload. */
  payloadType: 'date' | 'json' | 'str' | 'num' | 'bool';
  scheduleName: string;
}

/**
 * Sends a message on a cron schedule of its own (with a timezone), or on each run of a stored
 * schedule. An invalid expression or timezone is an error on deploy, never a node that does not run.
 */
export = function register(RED: NodeAPI) {
  function ScheduleNode(this: Node, config: ScheduleDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    let job: CronJob | null = null;
    let unsubscribe: (() => void) | null = null;

    const emit = (payload: unknown, schedule: Record<string, unknown>, ts: number) => {
      node.send({ payload, topic: schedule.name, schedule, ts, event: 'Schedule' } as never);
    };

    try {
      if (config.mode === 'stored') {
        const name = config.scheduleName;
        if (!name) throw new Error('No schedule: pick a stored schedule by name');
        const known = platform.schedules.list().some((s) => s.name === name);
        node.status(known ? { fill: 'grey', shape: 'dot', text: `waiting for ${name}` } : { fill: 'yellow', shape: 'ring', text: `no schedule named ${name}` });
        unsubscribe = platform.events.on('Schedule', (event) => {
          if (event.schedule.name !== name) return;
          emit(copy(event.payload), { ...event.schedule }, event.ts);
          node.status({ fill: 'green', shape: 'dot', text: `ran ${clock(event.ts, event.schedule.timezone)}` });
        });
      } else {
        const payloadAt = payloadOf(config);
        const timezone = config.timezone || 'UTC';
        const schedule = { name: config.name || config.cron, cron: config.cron, timezone };
        job = platform.schedules.run(config.cron, timezone, (scheduledFor) => {
          emit(payloadAt(scheduledFor), { ...schedule }, scheduledFor);
          showNext(timezone);
        });
        showNext(timezone);
      }
    } catch (err) {
      node.error((err as Error).message);
      showError(node, err);
    }

    function showNext(timezone: string): void {
      const next = job?.next() ?? null;
      node.status(next === null ? { fill: 'grey', shape: 'ring', text: 'no further runs' } : { fill: 'green', shape: 'dot', text: `next ${clock(next, timezone)}` });
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      job?.cancel();
      unsubscribe?.();
      done();
    });
  }
  RED.nodes.registerType('schedule', ScheduleNode);
};

/** The payload of a run, from the time it was due. */
function payloadOf(config: ScheduleDef): (scheduledFor: number) => unknown {
  const fixed = (value: unknown) => () => copy(value);
  switch (config.payloadType) {
    case 'json':
      try {
        return fixed(JSON.parse(config.payload));
      } catch (err) {
        throw new Error(`Payload is not JSON: ${(err as Error).message}`);
      }
    case 'str':
      return fixed(config.payload);
    case 'num':
      if (!Number.isFinite(Number(config.payload)) || config.payload.trim() === '') throw new Error(`Payload is not a number: ${JSON.stringify(config.payload.slice(0, 40))}`);
      return fixed(Number(config.payload));
    case 'bool':
      return fixed(config.payload === 'true');
    default:
      // The editor's timestamp type: ms since the epoch, or with its options an ISO string or a Date.
      if (config.payload === 'iso') return (ts) => new Date(ts).toISOString();
      if (config.payload === 'object') return (ts) => new Date(ts);
      return (ts) => ts;
  }
}
/** A time as the schedule's wall clock shows it ("2026-11-22 08:00:00 Europe/Berlin"). */
function clock(ms: number, timezone: string): string {
  // The sv-SE locale writes ISO-like dates, which read the same everywhere.
  return `${new Date(ms).toLocaleString('sv-SE', { timeZone: timezone })} ${timezone}`;
}

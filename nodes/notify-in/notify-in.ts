import type { Node, NodeAPI, NodeDef } from 'node-red';
import { copy, CountStatus, platformOf, showError } from '../lib/common';
import { OUTCOMES, outcomeOf, type Outcome } from './outcome';

interface NotifyInDef extends NodeDef {
  /** Outcomes to emit; default dead and sent. */
  statuses: Outcome[];
  /** Endpoint id; empty: any. */
  endpoint: string;
  /** Subscription id; empty: any (including sends from flows and the API). */
  subscription: string;
}

/** Emits one msg per delivery state change that passes the filter, so flows can react to a failed alert. */
export = function register(RED: NodeAPI) {
  function NotifyInNode(this: Node, config: NotifyInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    let unsubscribe: (() => void) | null = null;
    let status: CountStatus | null = null;

    try {
      const wanted = new Set(checkOutcomes(config.statuses));
      status = new CountStatus(node, 'deliveries');
      unsubscribe = platform.events.on('NotificationDelivery', (event) => {
        const d = event.delivery;
        if ((config.endpoint && d.endpoint !== config.endpoint) || (config.subscription && d.subscription !== config.subscription)) return;
        const outcome = outcomeOf(d);
        if (!wanted.has(outcome)) return;
        status!.add();
        // The view is shared by every listener: the flow gets its own copy.
        node.send({ topic: outcome, payload: copy(d), event: 'NotificationDelivery' });
      });
    } catch (err) {
      node.error((err as Error).message);
      showError(node, err);
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      unsubscribe?.();
      status?.close();
      done();
    });
  }

  function checkOutcomes(value: unknown): Outcome[] {
    if (value === undefined || value === null) return ['dead', 'sent'];
    const list = Array.isArray(value) ? value : [value];
    const bad = list.filter((v) => !(OUTCOMES as readonly unknown[]).includes(v));
    if (bad.length) throw new Error(`Statuses must be among ${OUTCOMES.join(', ')}; got ${JSON.stringify(bad).slice(0, 60)}`);
    return list as Outcome[];
  }

  RED.nodes.registerType('notify in', NotifyInNode);
};

import express, { type Request, type Response } from 'express';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { Errors, isFieldflowError } from '../../runtime/errors';
import { flowTriggerId } from '../../runtime/triggers/service';
import { backtestView } from '../../runtime/triggers/views';
import { copy, CountStatus, deviceCopy, platformOf, showError } from '../lib/common';
import { triggerSpec, type TriggerSettings } from './spec';

type DeviceTriggerDef = NodeDef & TriggerSettings;

/** The backtest ranges the edit dialog offers. */
const RANGES: Record<string, number> = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };
/** How many fire times the dialog lists (all are counted). */
const LISTED_FIRES = 100;

/**
 * Runs a trigger (a condition on a channel field or a tag, per device) while the node is
 * deployed, and emits each fire. The platform evaluates it and keeps its state across restarts
 * and redeploys; deleting the node deletes the trigger.
 */
export = function register(RED: NodeAPI) {
  function DeviceTriggerNode(this: Node, config: DeviceTriggerDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    const triggerId = flowTriggerId(node.id);
    let status: CountStatus | null = null;
    let closing = false;

    // Listen before attaching: attaching can announce fires that a restart left unannounced.
    const unsubscribe = platform.events.on('TriggerFired', (event) => {
      if (event.fire.trigger.id !== triggerId) return;
      status?.add();
      node.send({ topic: `devices/${event.device.id}/events`, payload: copy(event.fire), device: deviceCopy(event.device), event: 'TriggerFired' } as never);
    });
    const attached = (async () => platform.triggers.attach(node.id, triggerSpec(config)))().then(
      () => {
        if (!closing) status = new CountStatus(node, 'fired');
      },
      (err: Error) => {
        unsubscribe();
        node.error(err.message);
        showError(node, err);
        // The deployed definition replaced the one the platform holds: drop that one, not leave it listed.
        if (isFieldflowError(err) && err.code === Errors.INVALID_TRIGGER.code) return platform.triggers.removeFlow(node.id);
      },
    );

    node.on('close', (removed: boolean, done: () => void) => {
      closing = true;
      unsubscribe();
      status?.close();
      // A close can come while attach() is still running: stop what it is about to start.
      attached
        .then(async () => {
          if (removed) await platform.triggers.removeFlow(node.id);
          else platform.triggers.detach(node.id);
        })
        .catch((err: Error) => node.error(err.message))
        .finally(done);
    });
  }
  RED.nodes.registerType('device trigger', DeviceTriggerNode);

  // Once per module load, not per node: the edit dialog's Backtest button.
  RED.httpAdmin.post('/fieldflow/triggers/backtest', RED.auth.needsPermission('flows.read'), express.json(), (req: Request, res: Response) => {
    backtest(req.body).then(
      (result) => res.json(result),
      (err: Error) => {
        if (isFieldflowError(err) && err.status < 500) {
          res.status(err.status).json({ code: err.code, detail: err.message, errors: err.errors ?? [] });
        } else {
          RED.log.error(`device trigger backtest failed: ${err.message}`);
          res.status(500).json({ code: Errors.INTERNAL.code, detail: 'The backtest failed; the server log has the reason', errors: [] });
        }
      },
    );
  });

  /** Body: `{settings, range, device?}`, the dialog's unsaved settings; the spec is built as on deploy. */
  async function backtest(body: { settings?: unknown; range?: unknown; device?: unknown } | undefined) {
    const { settings, range, device } = body ?? {};
    if (typeof settings !== 'object' || settings === null) throw Errors.VALIDATION('settings must be the device trigger settings', { errors: [{ path: '/settings', message: 'must be an object' }] });
    if (typeof range !== 'string' || !Object.hasOwn(RANGES, range)) throw Errors.VALIDATION(`range must be one of ${Object.keys(RANGES).join(', ')}`, { errors: [{ path: '/range', message: 'is not an offered range' }] });
    if (device !== undefined && typeof device !== 'string') throw Errors.VALIDATION('device must be a device id', { errors: [{ path: '/device', message: 'must be a string' }] });
    const platform = platformOf(RED);
    const now = (platform.options.now ?? Date.now)();
    const result = await platform.triggers.backtest(triggerSpec(settings as TriggerSettings), { from: now - RANGES[range], device: device || undefined, maxFires: LISTED_FIRES });
    return backtestView(result);
  }
};

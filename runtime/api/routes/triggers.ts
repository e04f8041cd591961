import { Router } from 'express';
import type { Platform } from '../../index';
import { jsonBody, route } from '../http';
import { validBody } from '../validate';
import { backtestSchema, storedBacktestSchema } from '../schemas';
import { requireUser } from '../auth';
import { backtestView, triggerView } from '../../triggers/views';
import type { BacktestRange } from '../../triggers/backtest';

export function triggerRoutes(platform: Platform): Router {
  const router = Router();
  const { triggers } = platform;
  router.use('/triggers', requireUser(platform));
  const view = (t: ReturnType<typeof triggers.get>) => triggerView(t, triggers.isRunning(t.id));

  router.get(
    '/triggers',
    route((_req, res) => {
      res.json({ items: triggers.list().map(view) });
    }),
  );

  router.post(
    '/triggers',
    ...jsonBody(),
    route(async (req, res) => {
      const trigger = await triggers.create(req.body);
      res.status(201).location(`${req.baseUrl}/triggers/${trigger.id}`).json(view(trigger));
    }),
  );

  // Before /triggers/:id, so "backtest" is not read as an id.
  router.post(
    '/triggers/backtest',
    ...jsonBody(),
    route(async (req, res) => {
      const { trigger, ...range } = validBody<BacktestRange & { trigger: unknown }>(req, backtestSchema);
      res.json(backtestView(await triggers.backtest(trigger, range)));
    }),
  );

  router.get(
    '/triggers/:id',
    route((req, res) => {
      res.json(view(triggers.get(req.params.id)));
    }),
  );

  router.put(
    '/triggers/:id',
    ...jsonBody(),
    route(async (req, res) => {
      res.json(view(await triggers.update(req.params.id, req.body)));
    }),
  );

  router.delete(
    '/triggers/:id',
    route(async (req, res) => {
      await triggers.remove(req.params.id);
      res.status(204).end();
    }),
  );

  router.post(
    '/triggers/:id/backtest',
    ...jsonBody(),
    route(async (req, res) => {
      const range = validBody<BacktestRange>(req, storedBacktestSchema);
      const { id: _id, owner: _o, createdAt: _c, updatedAt: _u, ...spec } = triggers.get(req.params.id);
      res.json(backtestView(await triggers.backtest(spec, range)));
    }),
  );

  return router;
}

import { Router } from 'express';
import type { Platform } from '../../index';
import { jsonBody, route } from '../http';
import { validBody } from '../validate';
import { scheduleCreateSchema, schedulePatchSchema } from '../schemas';
import { requireUser } from '../auth';
import { scheduleView } from '../../schedule/views';
import type { ScheduleInput } from '../../schedule/service';

export function scheduleRoutes(platform: Platform): Router {
  const router = Router();
  const { schedules } = platform;
  router.use('/schedules', requireUser(platform));

  router.get(
    '/schedules',
    route((_req, res) => {
      res.json({ items: schedules.list().map(scheduleView) });
    }),
  );

  router.post(
    '/schedules',
    ...jsonBody(),
    route(async (req, res) => {
      const schedule = await schedules.create(validBody<ScheduleInput>(req, scheduleCreateSchema));
      res.status(201).location(`${req.baseUrl}/schedules/${schedule.id}`).json(scheduleView(schedules.get(schedule.id)));
    }),
  );

  router.get(
    '/schedules/:id',
    route((req, res) => {
      res.json(scheduleView(schedules.get(req.params.id)));
    }),
  );

  router.patch(
    '/schedules/:id',
    ...jsonBody(),
    route(async (req, res) => {
      const schedule = await schedules.update(req.params.id, validBody<ScheduleInput>(req, schedulePatchSchema));
      res.json(scheduleView(schedules.get(schedule.id)));
    }),
  );

  router.delete(
    '/schedules/:id',
    route(async (req, res) => {
      await schedules.remove(req.params.id);
      res.status(204).end();
    }),
  );

  return router;
}

import { Router } from 'express';
import type { Platform } from '../../index';
import { jsonBody, optionalJsonBody, route } from '../http';
import { validBody, validQuery } from '../validate';
import { alarmActionSchema, alarmListQuerySchema, alarmRaiseSchema } from '../schemas';
import { requireUser, type Principal } from '../auth';
import { alarmView } from '../../alarms/views';
import type { AlarmFilter, RaiseInput } from '../../alarms/service';
import type { Severity } from '../../alarms/severity';

export function alarmRoutes(platform: Platform): Router {
  const router = Router();
  const { alarms } = platform;
  router.use('/alarms', requireUser(platform));
  const who = (locals: Record<string, unknown>) => `user:${(locals.principal as Extract<Principal, { kind: 'user' }>).username}`;

  router.get(
    '/alarms',
    route((req, res) => {
      const q = validQuery<Omit<AlarmFilter, 'severity'> & { severity?: string; limit?: number; after?: string }>(req, alarmListQuerySchema);
      const { limit, after, severity, ...filter } = q;
      const page = alarms.list({ ...filter, severity: severity?.split(',') as Severity[] | undefined }, { limit: limit ?? 100, after });
      res.json({ items: page.items.map(alarmView), next: page.next });
    }),
  );

  router.post(
    '/alarms',
    ...jsonBody(),
    route(async (req, res) => {
      const input = validBody<RaiseInput>(req, alarmRaiseSchema);
      const { alarm, created } = await alarms.raise({ ...input, source: { kind: 'api', id: who(res.locals) } });
      res.status(created ? 201 : 200).json(alarmView(alarm));
    }),
  );

  router.get(
    '/alarms/:id',
    route((req, res) => {
      res.json(alarmView(alarms.get(req.params.id)));
    }),
  );

  for (const action of ['ack', 'clear'] as const) {
    router.post(
      `/alarms/:id/${action}`,
      ...optionalJsonBody(),
      route(async (req, res) => {
        const { comment } = validBody<{ comment?: string }>(req, alarmActionSchema);
        res.json(alarmView(await alarms[action](req.params.id, { by: who(res.locals), comment })));
      }),
    );
  }

  return router;
}

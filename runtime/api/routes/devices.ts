import { Router } from 'express';
import type { Platform } from '../../index';
import { jsonBody, route } from '../http';
import { validBody, validQuery } from '../validate';
import { deviceCreateSchema, deviceListQuerySchema, devicePatchSchema } from '../schemas';
import { requireUser } from '../auth';
import { deviceView, deviceWithTokenView } from '../../devices/views';
import { parseSelector } from '../../devices/selector';
import type { DeviceCreate, DevicePatch } from '../../devices/registry';

export function deviceRoutes(platform: Platform): Router {
  const router = Router();
  const { devices } = platform;
  router.use('/devices', requireUser(platform));

  router.post(
    '/devices',
    ...jsonBody(),
    route(async (req, res) => {
      const { device, token } = await devices.create(validBody<DeviceCreate>(req, deviceCreateSchema));
      res.status(201).location(`${req.baseUrl}/devices/${device.id}`).json(deviceWithTokenView(device, token));
    }),
  );

  router.get(
    '/devices',
    route((req, res) => {
      const q = validQuery<{ selector?: string; limit?: number; after?: string }>(req, deviceListQuerySchema);
      const page = devices.list({
        selector: q.selector === undefined ? undefined : parseSelector(q.selector),
        limit: q.limit ?? 100,
        after: q.after,
      });
      res.json({ items: page.items.map(deviceView), next: page.next });
    }),
  );

  router.get(
    '/devices/:id',
    route((req, res) => {
      res.json(deviceView(devices.require(req.params.id)));
    }),
  );

  router.patch(
    '/devices/:id',
    ...jsonBody(),
    route(async (req, res) => {
      devices.require(req.params.id);
      const patch = validBody<DevicePatch>(req, devicePatchSchema);
      const apply = () => devices.update(req.params.id, patch);
      // The model given must accept the configuration the device already has (FF_CONFIG_SCHEMA_MISMATCH).
      res.json(deviceView(await (patch.model === undefined ? apply() : platform.deviceConfig.changeModel(req.params.id, patch.model, apply))));
    }),
  );

  router.delete(
    '/devices/:id',
    route(async (req, res) => {
      await devices.remove(req.params.id);
      res.status(204).end();
    }),
  );

  router.post(
    '/devices/:id/token',
    route(async (req, res) => {
      const token = await devices.rotateToken(req.params.id);
      res.json(deviceWithTokenView(devices.require(req.params.id), token));
    }),
  );

  return router;
}

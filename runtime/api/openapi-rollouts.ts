import { errors, idParam, list, notFound, ok, problem, ref } from './openapi-helpers';
import { UPDATE_STATES } from '../ota/rollout-model';

const progress = { type: 'object', description: 'Updates per state', properties: Object.fromEntries([...UPDATE_STATES, 'total'].map((s) => [s, { type: 'integer' }])) };
const seconds = { type: 'number', description: 'Seconds' };

/** Components of the rollout part of the API. */
export function rolloutSchemas() {
  return {
    RolloutInput: {
      type: 'object',
      required: ['artifactId', 'fleetId'],
      properties: {
        name: { type: 'string' },
        artifactId: { type: 'string' },
        fleetId: { type: 'string' },
        canary: { type: 'object', description: '{"count": N} or {"percent": P}: devices that must all succeed before the waves start', properties: { count: { type: 'integer', minimum: 1 }, percent: { type: 'number' } } },
        waveSize: { type: 'integer', minimum: 1, description: 'Devices per wave after the canary (default: all the rest)' },
        wavePauseSeconds: { ...seconds, description: 'Wait after a wave ends before the next starts (default 0)' },
        maxFailureRatio: { type: 'number', minimum: 0, maximum: 1, description: 'Halt once failed / offered exceeds this (default 0.2)' },
        startAt: { type: 'string', format: 'date-time', description: 'Start later (default: now)' },
        timeouts: { type: 'object', description: 'Seconds per state before the update fails', properties: { offered: seconds, downloading: seconds, downloaded: seconds, installing: seconds } },
      },
    },
    Rollout: {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        name: { type: 'string' },
        artifactId: { type: 'string' },
        version: { type: 'string' },
        fleetId: { type: 'string' },
        fleetName: { type: 'string' },
        devices: { type: 'integer', description: 'Fleet members recorded at creation that the rollout updates' },
        skipped: {
          type: 'object',
          description: 'Fleet members left out because the artifact does not target their model: how many, and the first 100',
          properties: { count: { type: 'integer' }, devices: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, model: { type: 'string', nullable: true } } } } },
        },
        strategy: { type: 'object' },
        status: { type: 'string', enum: ['scheduled', 'running', 'paused', 'halted', 'cancelled', 'completed'] },
        wave: { type: 'integer', description: 'The wave that runs (0: the canary; -1: not started)' },
        waves: { type: 'integer', description: 'Waves in all, the canary included' },
        nextWaveAt: { type: 'string', format: 'date-time', nullable: true },
        haltReason: { type: 'string', nullable: true },
        progress,
        createdBy: { type: 'string' },
        createdAt: { type: 'string', format: 'date-time' },
        startedAt: { type: 'string', format: 'date-time', nullable: true },
        endedAt: { type: 'string', format: 'date-time', nullable: true },
      },
    },
    OtaUpdate: {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        rolloutId: { type: 'string' },
        deviceId: { type: 'string' },
        wave: { type: 'integer' },
        state: { type: 'string', enum: [...UPDATE_STATES] },
        reason: { type: 'string', nullable: true },
        fromVersion: { type: 'string', nullable: true },
        bytes: { type: 'integer', nullable: true },
        total: { type: 'integer', nullable: true },
        stateSince: { type: 'string', format: 'date-time' },
        offeredAt: { type: 'string', format: 'date-time', nullable: true },
        endedAt: { type: 'string', format: 'date-time', nullable: true },
      },
    },
  };
}

/** Paths of the rollout part of the API. */
export function rolloutPaths() {
  const action = (what: string) => ({
    parameters: [idParam('rollout')],
    post: { summary: what, responses: { 200: ok('Rollout', ref('Rollout')), 401: errors[401], 404: notFound('FF_ROLLOUT_NOT_FOUND'), 409: problem('Not possible in its status (FF_ROLLOUT_STATE)') } },
  });
  return {
    '/ota/rollouts': {
      get: { summary: 'List rollouts, newest first', parameters: [{ name: 'status', in: 'query', required: false, schema: { type: 'string' } }], responses: { 200: ok('Rollouts', list('Rollout')), 401: errors[401] } },
      post: {
        summary: 'Start (or schedule) a rollout of an artifact to a fleet; membership is recorded now',
        requestBody: { required: true, content: { 'application/json': { schema: ref('RolloutInput') } } },
        responses: {
          201: ok('Created', ref('Rollout')),
          400: problem('FF_INVALID_ROLLOUT'),
          401: errors[401],
          404: problem('FF_ARTIFACT_NOT_FOUND, FF_FLEET_NOT_FOUND'),
          409: problem('Devices are in an unfinished rollout (FF_CONFLICT)'),
          422: problem('FF_FLEET_EMPTY, FF_MODEL_MISMATCH'),
        },
      },
    },
    '/ota/rollouts/{id}': {
      parameters: [idParam('rollout')],
      get: { summary: 'A rollout with its progress counts', responses: { 200: ok('Rollout', ref('Rollout')), 401: errors[401], 404: notFound('FF_ROLLOUT_NOT_FOUND') } },
    },
    '/ota/rollouts/{id}/pause': action('Pause: no new wave starts; updates under way go on'),
    '/ota/rollouts/{id}/resume': action('Resume a paused rollout'),
    '/ota/rollouts/{id}/cancel': action('Cancel: updates not yet installing are cancelled'),
    '/ota/rollouts/{id}/updates': {
      parameters: [idParam('rollout')],
      get: {
        summary: "The rollout's per-device updates, in offer order",
        parameters: [
          { name: 'state', in: 'query', required: false, schema: { type: 'string', enum: [...UPDATE_STATES] } },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000 } },
          { name: 'after', in: 'query', required: false, schema: { type: 'string' }, description: 'The `next` of the previous page' },
        ],
        responses: { 200: ok('Updates', list('OtaUpdate')), 400: problem('FF_INVALID_QUERY'), 401: errors[401], 404: notFound('FF_ROLLOUT_NOT_FOUND') },
      },
    },
    '/ota/updates/{id}': {
      parameters: [idParam('update')],
      get: { summary: 'One device update', responses: { 200: ok('Update', ref('OtaUpdate')), 401: errors[401], 404: notFound('FF_OTA_UPDATE_NOT_FOUND') } },
    },
    '/devices/{id}/ota/artifacts/{artifactId}': {
      parameters: [idParam('device'), { name: 'artifactId', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        summary: 'Download an offered artifact with the device token (or a user token); Range and If-Range resume',
        responses: {
          200: { description: 'The file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          206: { description: 'The range asked for', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          401: errors[401],
          403: problem('The device has no open update of this artifact (FF_FORBIDDEN)'),
          404: notFound('FF_ARTIFACT_NOT_FOUND'),
          416: problem('Range outside the file (FF_RANGE_NOT_SATISFIABLE)'),
        },
      },
    },
  };
}

import { ok, problem } from './openapi-helpers';

const phase = { type: 'string', enum: ['created', 'starting', 'running', 'stopping', 'stopped'] };
const live = { type: 'object', required: ['status', 'phase'], properties: { status: { type: 'string', enum: ['ok'] }, phase } };
const check = {
  type: 'object',
  required: ['name', 'ok'],
  properties: {
    name: { type: 'string', description: 'platform, storage, server, or a check another part registered' },
    ok: { type: 'boolean' },
    detail: { description: 'What the check saw: a phase, or the failing storage targets with their error codes' },
  },
};
const ready = { type: 'object', required: ['status', 'checks'], properties: { status: { type: 'string', enum: ['ready'] }, checks: { type: 'array', items: check } } };

/** Liveness and readiness: no authentication, answered while the server starts and stops too. */
export function healthPaths() {
  const liveness = {
    get: {
      summary: 'Liveness: 200 whenever the process answers HTTP, starting and stopping included',
      security: [],
      responses: { 200: ok('Alive', live) },
    },
  };
  return {
    '/health': { ...liveness, get: { ...liveness.get, summary: 'Liveness (the older name of /health/live)' } },
    '/health/live': liveness,
    '/health/ready': {
      get: {
        summary: 'Readiness: 200 when the server should get traffic; 503 while starting, stopping, while storage writes fail, or while another registered check fails',
        security: [],
        responses: {
          200: ok('Ready, with every check', ready),
          503: problem('FF_NOT_READY; `failing` names the failing checks and `checks` lists every check'),
        },
      },
    },
  };
}

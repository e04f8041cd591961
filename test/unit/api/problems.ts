import assert from 'node:assert/strict';
import type { Reply } from '../../support/http';

/** Assert an RFC 9457 problem+json reply with the given status and catalog code. */
export function assertProblem(reply: Reply, status: number, code: string): void {
  assert.equal(reply.status, status, `expected ${status} ${code}, got ${reply.status} ${JSON.stringify(reply.body)}`);
  assert.match(reply.contentType, /^application\/problem\+json/);
  assert.equal(reply.body.code, code);
  assert.equal(reply.body.status, status);
  assert.equal(typeof reply.body.title, 'string');
  assert.equal(typeof reply.body.detail, 'string');
  assert.equal(reply.body.type, `/api/v1/errors#${code}`);
}

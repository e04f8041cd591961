import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ADMIN_PASSWORD, type ServerProcess } from '../../support/server';
import { editorToken } from '../../support/nodered';
import type { Api } from '../../support/http';
import { packNodeId } from '../../../runtime/packs/ids';

/** flows/ of the repository, where the built-in packs ship (this file runs from dist/test/e2e/packs-builtin). */
export const FLOWS_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'flows');

/** A built-in pack file as shipped, read from disk. */
export function readPack(name: string): { manifest: { id: string; version: string }; parameters: { properties: Record<string, { writeOnly?: boolean }> }; [part: string]: unknown } {
  return JSON.parse(fs.readFileSync(path.join(FLOWS_DIR, `${name}.json`), 'utf8'));
}

/** Node-RED's deployed flows, through its admin API as the editor reads them. */
export async function deployedFlows(server: ServerProcess): Promise<Array<Record<string, any>>> {
  const token = await editorToken(server.httpUrl, ADMIN_PASSWORD);
  const res = await fetch(`${server.httpUrl}/flows`, { headers: { authorization: `Bearer ${token}`, 'Node-RED-API-Version': 'v2' } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { flows: Array<Record<string, any>> }).flows;
}

/** The pack's one tab as deployed, and the nodes on it. */
export async function packTab(server: ServerProcess, packId: string) {
  const flows = await deployedFlows(server);
  const tabId = packNodeId(packId, 'tab');
  return { tab: flows.find((n) => n.id === tabId && n.type === 'tab'), nodes: flows.filter((n) => n.z === tabId) };
}

/**
 * Import the pack file as shipped through REST, and check that its tab runs the nodes of the file:
 * the expected count and types, and the parameters as the tab's env variables.
 */
export async function importBuiltin(server: ServerProcess, admin: Api, name: string, params: Record<string, unknown>, expected: { nodes: number; types: string[] }) {
  const pack = readPack(name);
  const r = await admin.post('/packs', { pack, params });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual([r.body.id, r.body.version], [pack.manifest.id, pack.manifest.version]);
  const { tab, nodes } = await packTab(server, pack.manifest.id);
  assert.ok(tab, `the tab of ${pack.manifest.id} is deployed`);
  assert.equal(nodes.length, expected.nodes, `nodes on the tab: ${nodes.map((n) => n.type).join(', ')}`);
  assert.deepEqual([...new Set(nodes.map((n) => n.type))].sort(), [...expected.types].sort());
  for (const [key, value] of Object.entries(params)) {
    const entry: { name: string; value: string } | undefined = (tab!.env as Array<{ name: string; value: string }>).find((e) => e.name === key);
    if (pack.parameters.properties[key]?.writeOnly) {
      // Secrets reach only the pack's resources: the flows file and the editor show env values in clear.
      assert.equal(entry, undefined, `the secret ${key} is not an env variable of the tab`);
      assert.equal(r.body.params[key], undefined, `the secret ${key} is not shown`);
      continue;
    }
    assert.ok(entry, `${key} is an env variable of the tab`);
    assert.equal(entry.value, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return { pack, installed: r.body as { id: string; resources: Array<{ kind: string; id: string; name: string }> } };
}

/** Remove the pack and check that its tab and every resource it created are gone. */
export async function removeBuiltin(server: ServerProcess, admin: Api, installed: { id: string; resources: Array<{ kind: string; id: string; name: string }> }) {
  const removed = await admin.delete(`/packs/${installed.id}`);
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  assert.deepEqual(removed.body.kept, [], 'nothing of the pack had to be kept');
  const { tab, nodes } = await packTab(server, installed.id);
  assert.deepEqual([tab, nodes.length], [undefined, 0], 'the tab and its nodes are gone');
  assert.equal((await admin.get(`/packs/${installed.id}`)).body.code, 'FF_PACK_NOT_FOUND');
  const lists: Record<string, string> = { endpoints: '/notifications/endpoints', subscriptions: '/notifications/subscriptions', schedules: '/schedules' };
  for (const r of installed.resources) {
    const items = (await admin.get(lists[r.kind])).body.items as Array<{ id: string; name: string }>;
    assert.equal(items.find((i) => i.id === r.id || i.name === r.name), undefined, `${r.kind} ${r.name} is gone`);
  }
}

/** A 6-field cron expression that fires once, at `at` (whole seconds) as the wall clock of `timezone` shows it. */
export function cronAt(at: number, timezone: string): string {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
      .formatToParts(new Date(at))
      .map((x) => [x.type, Number(x.value)]),
  );
  return `${p.second} ${p.minute} ${p.hour} ${p.day} ${p.month} *`;
}

/** RFC 4180 CSV: quoted fields with "" for a quote, CRLF or LF line ends. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, ADMIN_PASSWORD, type ServerProcess } from '../support/server';
import { tempDir } from '../support/platform';
import { deployFlows, editorToken } from '../support/nodered';

const TAB = 'cred000000000001';
const NODE = 'cred000000000002';

/** A flow with one node that has credentials: an http request node with basic authentication. */
function flow(user: string, name = 'with credentials') {
  return [
    { id: TAB, type: 'tab', label: 'credentials' },
    { id: NODE, z: TAB, type: 'http request', name, method: 'GET', ret: 'txt', url: 'http://127.0.0.1:9/', authType: 'basic', credentials: { user, password: 's3cret' }, wires: [[]] },
  ];
}

describe("Node-RED's flow credentials key", function () {
  this.timeout(90_000);
  const dataDir = tempDir('fieldflow-credentials-');
  const keyFile = path.join(dataDir, 'platform', 'flows.key');
  const runtimeSettings = path.join(dataDir, 'node-red', '.config.runtime.json');
  const credentialsFile = path.join(dataDir, 'node-red', 'flows_cred.json');
  let server: ServerProcess | undefined;

  const start = async (secret = '') => {
    server = await startServer({ dataDir, env: { FIELDFLOW_CREDENTIAL_SECRET: secret, FIELDFLOW_LOG_LEVEL: 'info' } });
    return server;
  };
  const stop = async () => {
    const code = await server!.stop();
    assert.equal(code, 0, server!.output());
    server = undefined;
  };
  /** What the editor's admin API says about the node's credentials: the user name, and whether a password is set. */
  const credentials = async (s: ServerProcess) => {
    const token = await editorToken(s.httpUrl, ADMIN_PASSWORD);
    const res = await fetch(`${s.httpUrl}/credentials/http-request/${NODE}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    return res.json();
  };
  const nodeRedKey = () => (fs.existsSync(runtimeSettings) ? JSON.parse(fs.readFileSync(runtimeSettings, 'utf8'))._credentialSecret : undefined);

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && server) process.stderr.write(`--- server output ---\n${server.output()}\n`);
  });
  after(async () => {
    if (server) await server.stop();
  });

  it('is generated once into the data directory, owner-only, and the start names FIELDFLOW_CREDENTIAL_SECRET, not a settings file', async () => {
    const s = await start();
    const out = s.output();
    assert.doesNotMatch(out, /credentialSecret|settings file|system-generated key/);
    assert.match(out, new RegExp(`Secrets +flow credentials are encrypted with a key generated in ${keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\n +back it up with the data directory, or set FIELDFLOW_CREDENTIAL_SECRET to use your own key\\.`));
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(keyFile, 'utf8'), /^[0-9a-f]{64}\n$/);
    assert.equal(nodeRedKey(), undefined, 'Node-RED keeps no key of its own in its world-readable settings');

    await deployFlows(s.httpUrl, ADMIN_PASSWORD, flow('alice'));
    assert.deepEqual(await credentials(s), { user: 'alice', has_password: true });
    assert.doesNotMatch(fs.readFileSync(credentialsFile, 'utf8'), /alice|s3cret/, 'stored encrypted');
    await stop();

    const again = await start();
    assert.doesNotMatch(again.output(), /credentialSecret|Secrets +flow credentials|Failed to decrypt/, 'the banner line is shown once');
    assert.deepEqual(await credentials(again), { user: 'alice', has_password: true });
    await stop();
  });

  it("takes over the key Node-RED generated in a data directory from before, and the credentials stay readable", async () => {
    // What an earlier version left: Node-RED's own key in its runtime settings, and no flows.key.
    const key = fs.readFileSync(keyFile, 'utf8').trim();
    const settings = fs.existsSync(runtimeSettings) ? JSON.parse(fs.readFileSync(runtimeSettings, 'utf8')) : {};
    fs.writeFileSync(runtimeSettings, JSON.stringify({ ...settings, _credentialSecret: key }));
    fs.rmSync(keyFile);

    const s = await start();
    assert.doesNotMatch(s.output(), /credentialSecret|settings file|Failed to decrypt/);
    assert.equal(fs.readFileSync(keyFile, 'utf8').trim(), key);
    assert.deepEqual(await credentials(s), { user: 'alice', has_password: true });
    await stop();
  });

});

/**
 * The baseline for bench/ota.ts: the least a server can do to serve a file to many devices at once,
 * node:http and fs.createReadStream with no framework, no auth, no ranges. Forked by the benchmark;
 * it sends back its port.
 */
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';

const file = process.env.BENCH_FILE!;
const size = fs.statSync(file).size;
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
  fs.createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as net.AddressInfo).port }));
process.on('disconnect', () => process.exit(0));

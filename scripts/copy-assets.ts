/**
 * Node-RED loads a node from a .js file with a .html file beside it, plus the module's
 * package.json, icons and examples, and serves the module's resources/ folder to the editor
 * (plain browser scripts, not compiled). tsc emits only the nodes' .js; this copies the rest into dist/.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const ASSET = /\.(html|json|png|svg)$/;

function copyAssets(from: string, to: string, everything = false): number {
  let copied = 0;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) {
      copied += copyAssets(src, dst, everything || entry.name === 'resources');
    } else if (everything || ASSET.test(entry.name)) {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(src, dst);
      copied++;
    }
  }
  return copied;
}

const n = copyAssets(path.join(root, 'nodes'), path.join(root, 'dist', 'nodes'));
process.stdout.write(`copied ${n} node assets to dist/nodes\n`);

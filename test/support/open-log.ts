/**
 * Open a message log directory in this process and print what it holds, as JSON: for tests that start it in a
 * child process with a small heap (`node --max-old-space-size=N open-log.js DIR BUDGET_MB`). A refusal prints the
 * error's code and message and exits with 2.
 */
import { NedbMessageLog } from '../../runtime/store/message-log';
import { silentLogger } from '../../runtime/log';
import { isFieldflowError } from '../../runtime/errors';

async function main(): Promise<void> {
  const [dir, budgetMb] = process.argv.slice(2);
  const log = new NedbMessageLog(dir, 1, silentLogger, undefined, { budgetBytes: Number(budgetMb) * 2 ** 20, configured: true, trimOnStart: false });
  try {
    await log.open();
  } catch (err) {
    if (!isFieldflowError(err)) throw err;
    process.stdout.write(JSON.stringify({ code: err.code, message: err.message }) + '\n');
    process.exit(2);
  }
  let messages = 0;
  for (const stream of log.streams()) messages += log.count(stream);
  process.stdout.write(JSON.stringify({ messages, usage: log.memory.usage() }) + '\n');
  await log.close();
}

void main();

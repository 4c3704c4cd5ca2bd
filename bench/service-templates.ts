/**
 * Section 9's service: the real process entry (`src/main.ts`, everything `npm start` assembles from
 * the environment: provider, storage, limiter, prompt templates and whatever they bring, such as the
 * result cache) configured only through its environment variables — `PROMPTS_FILE`,
 * `OPENAI_BASE_URL`, `SQLITE_PATH`, … set by the parent — so the bench measures what an operator
 * runs. This wrapper only picks a free port, waits for `/healthz`, and answers the parent's `cpu`
 * command from the same process.
 */
import { createServer } from 'node:net';
import { serveParent } from './children.js';
import { profilerCommands } from './profiler.js';
import { sleep } from './stats.js';

const port = await new Promise<number>((resolve, reject) => {
  const probe = createServer();
  probe.once('error', reject);
  probe.listen(0, '127.0.0.1', () => {
    const address = probe.address();
    probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
  });
});
process.env.PORT = String(port);
process.env.HOST = '127.0.0.1';

await import('../src/main.js');

for (let attempt = 0; ; attempt++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
  } catch {
    // not listening yet
  }
  if (attempt > 600) throw new Error('the service did not answer /healthz within 30 s');
  await sleep(50);
}

// The profiler's commands too, for a profile of the cache's hits by hand (bench/profile.ts).
serveParent(port, Object.assign({ cpu: () => process.cpuUsage() }, profilerCommands()));

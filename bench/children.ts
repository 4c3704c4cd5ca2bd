/**
 * Forks helper servers (the bench's stub upstream, raw proxy and service; the soak's too) as separate
 * Node processes, so their CPU and memory are their own, and talks to them over the IPC channel: each
 * child sends `{ type: 'ready', port }` once listening and answers `{ id, cmd }` with `{ id, result }`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface BenchChild {
  port: number;
  origin: string;
  pid: number;
  rpc<T>(cmd: string, arg?: unknown): Promise<T>;
  stop(): Promise<void>;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

const live = new Set<ChildProcess>();

/**
 * The environment the service runs in when deployed. graphql-js reads NODE_ENV once, at load:
 * outside production it adds cross-realm checks to every instanceof test it makes.
 */
export const serviceEnv = { NODE_ENV: 'production' } as const;

/**
 * Bundles a child's TypeScript into plain JavaScript beside it (so its `import.meta.url` paths still
 * hold), as `npm start` runs the service: measured under tsx, a process carries ~65 MB of loader
 * state that production does not.
 */
async function bundled(path: string): Promise<string> {
  const outfile = path.replace(/\.ts$/, '.bundle.mjs');
  await build({
    entryPoints: [path],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

/** Forks a script (a path relative to bench/, or a URL), bundled, and resolves once it listens. */
export async function startChild(
  script: string | URL,
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): Promise<BenchChild> {
  const path = await bundled(
    fileURLToPath(typeof script === 'string' ? new URL(script, import.meta.url) : script),
  );
  const child = fork(path, [], {
    execArgv: nodeFlags,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const pending = new Map<number, (reply: Reply) => void>();
  let nextId = 1;
  child.on('message', (message: Reply) => {
    const settle = pending.get(message.id);
    if (settle === undefined) return;
    pending.delete(message.id);
    settle(message);
  });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited early with code ${code}`));
    });
    child.on('message', (message: { type?: string; port?: number }) => {
      if (message.type !== 'ready' || message.port === undefined || child.pid === undefined) return;
      clearTimeout(timer);
      const port = message.port;
      resolve({
        port,
        origin: `http://127.0.0.1:${port}`,
        pid: child.pid,
        rpc: <T>(cmd: string, arg?: unknown) =>
          new Promise<T>((ok, fail) => {
            const id = nextId++;
            pending.set(id, (reply) =>
              reply.error === undefined ? ok(reply.result as T) : fail(new Error(reply.error)),
            );
            child.send({ id, cmd, arg });
          }),
        stop: () => stopChild(child),
      });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * CPU µs each child spends per call while `run` makes `count` calls, read in the children (their
 * `cpu` command) so the load generator's own CPU is not counted.
 */
export async function childrenCpuPerCall(
  children: readonly BenchChild[],
  count: number,
  run: () => Promise<unknown>,
): Promise<number[]> {
  const read = () => Promise.all(children.map((child) => child.rpc<NodeJS.CpuUsage>('cpu')));
  const before = await read();
  await run();
  const after = await read();
  return after.map((cpu, i) => {
    const base = before[i] ?? { user: 0, system: 0 };
    return (cpu.user - base.user + cpu.system - base.system) / count;
  });
}

/** Stops every child still running (on the way out, crash or not). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map(stopChild));
}

/** The child side: announce the port and serve RPC commands from the parent. */
export function serveParent(port: number, commands: Record<string, (arg: unknown) => unknown>): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (message: { id: number; cmd: string; arg?: unknown }) => {
    const command = commands[message.cmd];
    try {
      if (command === undefined) throw new Error(`unknown command ${message.cmd}`);
      process.send?.({ id: message.id, result: await command(message.arg) });
    } catch (error) {
      process.send?.({ id: message.id, error: error instanceof Error ? error.message : String(error) });
    }
  });
  process.send?.({ type: 'ready', port });
}

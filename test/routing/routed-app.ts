import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import type { RouterClock } from '../../src/routing/clock.js';
import type { Router, RouterOptions } from '../../src/routing/router.js';
import { createRoutedProvider } from '../../src/routing/setup.js';
import { createLogger } from '../../src/telemetry/logger.js';
import {
  canaryKey,
  type StubHandler,
  type StubUpstream,
  startStubUpstream,
} from '../helpers/stub-upstream.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { TEST_CACHE_DIR } from '../local/shared-provider.js';

/**
 * The real application in front of three stub upstreams on 127.0.0.1 (`a`, `b`, `c`), routed by an
 * UPSTREAMS_FILE read through `loadConfig`, with time and chance injected: a test decides when a
 * deadline passes, and a seeded random makes load balancing repeatable.
 */

/** Time that moves only when the test says; timers fire as it passes them. */
export class FakeClock implements RouterClock {
  private at = 1_000_000;
  private timers: { due: number; fire: () => void }[] = [];

  now(): number {
    return this.at;
  }

  setTimer(fire: () => void, ms: number): () => void {
    const timer = { due: this.at + ms, fire };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  advance(ms: number): void {
    this.at += ms;
    const due = this.timers.filter((t) => t.due <= this.at);
    this.timers = this.timers.filter((t) => t.due > this.at);
    for (const timer of due) timer.fire();
  }
}

/** mulberry32: a small seeded generator, so a distribution test gives the same counts every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export type StubName = 'a' | 'b' | 'c';

export interface RoutedApp {
  stubs: Record<StubName, StubUpstream>;
  app: TestApp;
  router: Router;
  clock: FakeClock;
  close(): Promise<void>;
}

/**
 * `file(urls)` writes the UPSTREAMS_FILE from the stubs' base URLs. Every HTTP deployment reads the
 * canary key from KEY_A (so a leak would show), retries nothing unless the file says so.
 */
export async function startRoutedApp(options: {
  file: (urls: Record<StubName, string>) => string;
  env?: Record<string, string>;
  inject?: Pick<RouterOptions, 'random' | 'breaker'>;
}): Promise<RoutedApp> {
  const stubs = {
    a: await startStubUpstream(),
    b: await startStubUpstream(),
    c: await startStubUpstream(),
  };
  const dir = mkdtempSync(join(tmpdir(), 'routed-'));
  const path = join(dir, 'upstreams.yaml');
  writeFileSync(path, options.file({ a: stubs.a.baseUrl, b: stubs.b.baseUrl, c: stubs.c.baseUrl }));
  const config = loadConfig({
    UPSTREAMS_FILE: path,
    KEY_A: canaryKey,
    UPSTREAM_MAX_RETRIES: '0',
    LOCAL_MODEL_CACHE_DIR: TEST_CACHE_DIR,
    ...options.env,
  });
  const clock = new FakeClock();
  const { router } = await createRoutedProvider(
    config,
    config.upstreams as NonNullable<typeof config.upstreams>,
    createLogger({ level: 'silent', secrets: [] }),
    { clock, random: seededRandom(42), ...options.inject },
  );
  const app = await startTestApp({ provider: router });
  return {
    stubs,
    app,
    router,
    clock,
    async close() {
      app.assertNoSecretLeaked();
      await app.close();
      await Promise.all(Object.values(stubs).map((stub) => stub.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A stub answer that waits until the test releases it; `arrived` resolves when the request is in. */
export function held(answer: StubHandler): {
  handler: StubHandler;
  arrived: Promise<ServerResponse>;
  release: () => void;
} {
  let arrive: (res: ServerResponse) => void = () => {};
  let release: () => void = () => {};
  const arrived = new Promise<ServerResponse>((resolve) => (arrive = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    arrived,
    release,
    handler: async (req, res, recorded) => {
      arrive(res);
      await released;
      await answer(req, res, recorded);
    },
  };
}

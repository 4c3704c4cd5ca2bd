import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LightAbortController } from '../src/abort.js';

/** The light signal stands in for Node's AbortSignal wherever the service hands one on. */

describe('LightAbortController', () => {
  it('aborts once, with the reason given, telling listeners and onabort', () => {
    const controller = new LightAbortController();
    const heard: unknown[] = [];
    controller.signal.addEventListener('abort', () => heard.push(controller.signal.reason), { once: true });
    controller.signal.onabort = () => heard.push('onabort');
    expect(controller.signal.aborted).toBe(false);
    expect(() => controller.signal.throwIfAborted()).not.toThrow();
    const reason = new Error('stop');
    controller.abort(reason);
    controller.abort(new Error('again'));
    expect(controller.signal.aborted).toBe(true);
    expect(controller.signal.reason).toBe(reason);
    expect(heard).toEqual(['onabort', reason]);
    expect(() => controller.signal.throwIfAborted()).toThrow(reason);
  });

  it("gives an AbortError by default, as Node's does", () => {
    const controller = new LightAbortController();
    controller.abort();
    expect(controller.signal.reason).toMatchObject({ name: 'AbortError' });
  });

  it('stops a node:timers/promises sleep', async () => {
    const controller = new LightAbortController();
    const slept = sleep(60_000, undefined, { signal: controller.signal });
    controller.abort(new Error('woken'));
    await expect(slept).rejects.toMatchObject({ name: 'AbortError' });
  });

  describe('with undici', () => {
    const requests: IncomingMessage[] = [];
    const server = createServer((req, res) => {
      requests.push(req);
      // A request cut short by the client errs ('aborted') before it closes.
      req.on('error', () => {});
      if (req.url === '/partial') {
        res.writeHead(200);
        res.write('part of it');
      }
    });
    let origin = '';
    beforeAll(async () => {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => {
      server.closeAllConnections();
      server.close();
    });

    it('cancels a request waiting for its headers, and the server sees it closed', async () => {
      const controller = new LightAbortController();
      const answer = request(`${origin}/hang`, { signal: controller.signal });
      await expect.poll(() => requests.length).toBe(1);
      const closed = new Promise((resolve) => (requests[0] as IncomingMessage).once('close', resolve));
      controller.abort(new Error('gave up'));
      await expect(answer).rejects.toThrow('gave up');
      await closed;
    });

    it('cancels a response body being read', async () => {
      const controller = new LightAbortController();
      const response = await request(`${origin}/partial`, { signal: controller.signal });
      const text = response.body.text();
      controller.abort(new Error('enough'));
      await expect(text).rejects.toThrow('enough');
    });

    it('refuses to start under a signal already aborted', async () => {
      const controller = new LightAbortController();
      controller.abort(new Error('before'));
      const before = requests.length;
      await expect(request(`${origin}/hang`, { signal: controller.signal })).rejects.toThrow('before');
      expect(requests.length).toBe(before);
    });
  });
});

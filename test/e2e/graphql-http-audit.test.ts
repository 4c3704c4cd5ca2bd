import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/** The GraphQL-over-HTTP spec audit from the `graphql-http` package, run against the real server. */

let stub: StubUpstream;
let app: TestApp;

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp());
  stub.on('GET', '/models', reply.json(200, { object: 'list', data: [] }));
});

afterAll(() => stopStubbedApp({ stub, app }));

describe('graphql-http server audit', () => {
  for (const audit of serverAudits({ url: () => app.graphqlUrl, fetchFn: fetch })) {
    it(audit.name, async () => {
      const result = await audit.fn();
      expect(result.status === 'ok' ? 'ok' : `${result.status}: ${result.reason}`).toBe('ok');
    });
  }
});

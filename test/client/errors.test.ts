// Error responses become typed errors carrying the status, the server's message and
// the leader hint; responses outside the contract still give a clear error.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BadRequestError,
  ConflictError,
  HttpError,
  NoLeaderError,
  NotFoundError,
  PayloadTooLargeError,
  PreconditionFailedError,
  StoreError,
  TimeoutError,
  UnauthorizedError,
  ValidationError,
  connect,
  type Client,
} from '../../src/client/index.ts';
import { errorFromResponse } from '../../src/client/errors.ts';
import { FakeNode } from './fake-server.ts';

const CASES = [
  { status: 400, code: 'BAD_REQUEST', type: BadRequestError },
  { status: 400, code: 'VALIDATION', type: ValidationError },
  { status: 401, code: 'UNAUTHORIZED', type: UnauthorizedError },
  { status: 404, code: 'NOT_FOUND', type: NotFoundError },
  { status: 409, code: 'CONFLICT', type: ConflictError },
  { status: 412, code: 'PRECONDITION_FAILED', type: PreconditionFailedError },
  { status: 409, code: 'PRECONDITION_FAILED', type: PreconditionFailedError },
  { status: 413, code: 'PAYLOAD_TOO_LARGE', type: PayloadTooLargeError },
  { status: 503, code: 'NO_LEADER', type: NoLeaderError },
  { status: 503, code: 'TIMEOUT', type: TimeoutError },
] as const;

describe('error mapping over HTTP', () => {
  let node: FakeNode;
  let client: Client;
  before(async () => {
    node = await FakeNode.start();
  });
  after(async () => {
    await node.close();
  });
  // A fresh client per test: a 503's leader hint redirects the client that got it.
  beforeEach(() => {
    client = connect(node.url, { retries: 0 });
  });
  afterEach(async () => {
    await client.close();
  });

  for (const { status, code, type } of CASES) {
    test(`${status} ${code} → ${type.name} with status, message and leader`, async () => {
      const message = `server says ${code}`;
      node.inject({
        path: '/api/m/_count',
        action: { kind: 'reply', status, body: { error: { code, message, leader: 'http://10.0.0.9:8080' } } },
      });
      await assert.rejects(client.collection('m').count({}), (error: unknown) => {
        assert.ok(error instanceof type, `got ${String(error)}`);
        assert.ok(error instanceof StoreError);
        assert.equal(error.code, code);
        assert.equal(error.message, message);
        const details = error as StoreError & { status: number; leader?: string; url?: string };
        assert.equal(details.status, status);
        assert.equal(details.leader, 'http://10.0.0.9:8080');
        assert.equal(details.url, node.url);
        return true;
      });
    });
  }

  test('a body that is not the contract JSON is mapped by status', async () => {
    node.inject({ path: '/api/m/_count', action: { kind: 'reply', status: 404, raw: 'not here' } });
    await assert.rejects(client.collection('m').count({}), NotFoundError);
    node.inject({ path: '/api/m/_count', action: { kind: 'reply', status: 500, raw: 'boom' } });
    await assert.rejects(client.collection('m').count({}), (error: unknown) => {
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, 500);
      assert.equal(error.code, 'HTTP_ERROR');
      return true;
    });
  });

  test('an unknown code falls back to the status', () => {
    const error = errorFromResponse(409, { error: { code: 'SOMETHING_NEW', message: 'm' } }, 'http://x:1');
    assert.ok(error instanceof ConflictError);
    assert.equal(error.message, 'm');
  });

  test('the store validation error of the server comes back as ValidationError', async () => {
    await assert.rejects(client.collection('m').insert({ $bad: 1 }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, /\$bad/);
      return true;
    });
  });
});

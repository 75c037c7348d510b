// Error responses become typed errors carrying the status, the server's message and
// the leader hint; responses outside the contract still give a clear error.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BadRequestError,
  CommitUnknownError,
  ConflictError,
  HttpError,
  IdempotencyKeyReusedError,
  IdempotencyKeyExpiredError,
  ChangesExpiredError,
  NoLeaderError,
  NodeFailedError,
  StorageFailedError,
  NotCaughtUpError,
  NotFoundError,
  PayloadTooLargeError,
  PreconditionFailedError,
  ReadTimeoutError,
  RequestTimeoutError,
  StoreError,
  TimeoutError,
  UnauthorizedError,
  ForbiddenError,
  TooManyRequestsError,
  ValidationError,
  SchemaValidationError,
  connect,
  type Client,
} from '../../src/client/index.ts';
import { errorFromResponse } from '../../src/client/errors.ts';
import { ALL_ERROR_CODES, ERROR_CODES } from '../../src/store/error-codes.ts';
import { FakeNode } from './fake-server.ts';

const CASES = [
  { status: 400, code: 'BAD_REQUEST', type: BadRequestError },
  { status: 400, code: 'VALIDATION', type: ValidationError },
  { status: 400, code: 'VALIDATION_FAILED', type: SchemaValidationError },
  { status: 401, code: 'UNAUTHORIZED', type: UnauthorizedError },
  { status: 403, code: 'FORBIDDEN', type: ForbiddenError },
  { status: 429, code: 'TOO_MANY_REQUESTS', type: TooManyRequestsError },
  { status: 404, code: 'NOT_FOUND', type: NotFoundError },
  { status: 409, code: 'CONFLICT', type: ConflictError },
  { status: 412, code: 'PRECONDITION_FAILED', type: PreconditionFailedError },
  { status: 409, code: 'PRECONDITION_FAILED', type: PreconditionFailedError },
  { status: 413, code: 'PAYLOAD_TOO_LARGE', type: PayloadTooLargeError },
  { status: 422, code: 'IDEMPOTENCY_KEY_REUSED', type: IdempotencyKeyReusedError },
  { status: 410, code: 'IDEMPOTENCY_KEY_EXPIRED', type: IdempotencyKeyExpiredError },
  { status: 410, code: 'CHANGES_EXPIRED', type: ChangesExpiredError },
  { status: 503, code: 'NO_LEADER', type: NoLeaderError },
  { status: 408, code: 'REQUEST_TIMEOUT', type: RequestTimeoutError },
  { status: 503, code: 'COMMIT_UNKNOWN', type: CommitUnknownError },
  { status: 503, code: 'READ_TIMEOUT', type: ReadTimeoutError },
  { status: 503, code: 'NOT_CAUGHT_UP', type: NotCaughtUpError },
  { status: 503, code: 'NODE_FAILED', type: NodeFailedError },
  { status: 507, code: 'STORAGE_FAILED', type: StorageFailedError },
] as const;

describe('the client classes follow the error table', () => {
  test('every code of the table has its class and the status of the table (INTERNAL: an HttpError)', () => {
    const covered = new Set<string>(CASES.map((c) => c.code));
    assert.deepEqual(
      ALL_ERROR_CODES.filter((code) => !covered.has(code)),
      ['INTERNAL'],
    );
    // Each case answers with the table's status, but for the route exception (409 on /api/_tx).
    for (const { status, code } of CASES) assert.ok(status === ERROR_CODES[code].status || (code === 'PRECONDITION_FAILED' && status === 409), code);
    for (const code of ALL_ERROR_CODES) {
      const error = errorFromResponse(ERROR_CODES[code].status, { error: { code, message: 'm' } }, 'http://x:1');
      if (code === 'INTERNAL') {
        assert.ok(error instanceof HttpError);
        assert.equal(error.status, 500);
        continue;
      }
      assert.ok(error instanceof StoreError, code);
      assert.equal(error.code, code);
      assert.equal(error.status, ERROR_CODES[code].status);
      assert.ok(error instanceof CASES.find((c) => c.code === code)!.type, code);
    }
  });

  test('the errors that used to be TIMEOUT are TimeoutErrors; a node failure is not', () => {
    for (const type of [RequestTimeoutError, ReadTimeoutError, CommitUnknownError]) assert.ok(new type('m') instanceof TimeoutError);
    assert.ok(!(new NodeFailedError('m') instanceof TimeoutError));
    assert.ok(!(new NotCaughtUpError('m') instanceof TimeoutError));
    assert.equal(new RequestTimeoutError('m', 0).status, 0);
  });

  test('a body without a known code is mapped by the first code of its status in the table', () => {
    assert.ok(errorFromResponse(503, 'proxy says no', 'http://x:1') instanceof NoLeaderError);
    assert.ok(errorFromResponse(503, { error: { code: 'TIMEOUT', message: 'an older server' } }, 'http://x:1') instanceof NoLeaderError);
    assert.ok(errorFromResponse(408, '', 'http://x:1') instanceof RequestTimeoutError);
    assert.ok(errorFromResponse(400, '', 'http://x:1') instanceof BadRequestError);
    assert.ok(errorFromResponse(502, '', 'http://x:1') instanceof HttpError);
  });
});

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

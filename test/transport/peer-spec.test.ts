import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePeers, parseAddress } from '../../src/transport/index.ts';
import { OutboundQueue } from '../../src/transport/outbound-queue.ts';

describe('parsePeers', () => {
  test('addresses only', () => {
    assert.deepEqual(parsePeers('127.0.0.1:8081,127.0.0.1:8082'), [{ address: '127.0.0.1:8081' }, { address: '127.0.0.1:8082' }]);
  });

  test('with ids, mixed, spaces, IPv6 and host names', () => {
    assert.deepEqual(parsePeers('2=127.0.0.1:8081,3=127.0.0.1:8082'), [
      { id: 2, address: '127.0.0.1:8081' },
      { id: 3, address: '127.0.0.1:8082' },
    ]);
    assert.deepEqual(parsePeers(' 2=Node-A.local:8081 , [::1]:9000,7=10.0.0.3:1 '), [
      { id: 2, address: 'node-a.local:8081' },
      { address: '[::1]:9000' },
      { id: 7, address: '10.0.0.3:1' },
    ]);
    assert.deepEqual(parsePeers(''), []);
  });

  test('malformed entries are refused with a message naming them', () => {
    const cases: Array<[string, RegExp]> = [
      ['127.0.0.1', /not host:port/],
      ['127.0.0.1:0', /invalid port/],
      ['127.0.0.1:65536', /invalid port/],
      ['127.0.0.1:80a', /not host:port/],
      [':8080', /empty host/],
      ['2=', /empty address/],
      ['x=127.0.0.1:1', /node id "x"/],
      ['0=127.0.0.1:1', /node id "0"/],
      ['-1=127.0.0.1:1', /node id "-1"/],
      ['127.0.0.1:1,,127.0.0.1:2', /empty entry/],
      ['2=127.0.0.1:1,2=127.0.0.1:2', /duplicate node id 2/],
      ['127.0.0.1:1,3=127.0.0.1:1', /duplicate address 127.0.0.1:1/],
      ['LOCALHOST:5,localhost:5', /duplicate address/],
      ['http://127.0.0.1:1', /not host:port/],
      ['a#b:80', /not host:port/],
      ['user@host:80', /not host:port/],
    ];
    for (const [spec, message] of cases) assert.throws(() => parsePeers(spec), message, spec);
  });

  test('parseAddress splits host and port', () => {
    assert.deepEqual(parseAddress('example.com:443'), { host: 'example.com', port: 443 });
    assert.deepEqual(parseAddress('[fe80::1]:80'), { host: '[fe80::1]', port: 80 });
  });
});

describe('OutboundQueue', () => {
  test('bounded by count and by bytes, FIFO', () => {
    const queue = new OutboundQueue(3, 100);
    const frame = (n: number, size: number) => ({ frame: Buffer.alloc(size, n), requestId: undefined });
    assert.equal(queue.push(frame(1, 40)), true);
    assert.equal(queue.push(frame(2, 40)), true);
    assert.equal(queue.push(frame(3, 40)), false); // 120 bytes > 100
    assert.equal(queue.push(frame(4, 20)), true);
    assert.equal(queue.push(frame(5, 1)), false); // 4 messages > 3
    assert.equal(queue.length, 3);
    assert.equal(queue.bytes, 100);
    assert.equal(queue.shift()?.frame[0], 1);
    assert.equal(queue.bytes, 60);
    assert.equal(
      queue
        .drain()
        .map((i) => i.frame[0])
        .join(','),
      '2,4',
    );
    assert.equal(queue.length, 0);
    assert.equal(queue.bytes, 0);
    assert.equal(queue.shift(), undefined);
  });

  test('stays consistent through many pushes and shifts', () => {
    const queue = new OutboundQueue(5000, 1_000_000);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) assert.ok(queue.push({ frame: Buffer.from([next++ & 0xff]), requestId: undefined }));
      for (let i = 0; i < 90; i++) assert.equal(queue.shift()?.frame[0], expected++ & 0xff);
    }
    assert.equal(queue.length, 500);
    assert.equal(queue.bytes, 500);
  });
});

// Before its handshake completes, a connection is anybody's: it may send a few KiB in all,
// and only so many such connections are held, per remote address and in total (F2 of issue
// #11's review: 60 sockets each sending a 32 MiB frame before the hello held 2 GB).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HANDSHAKE_RECEIVED_BYTES_MAX } from '../../src/transport/index.ts';
import { sleep, startNode, waitFor } from './harness.ts';
import { frameHeader, rawUpgrade, streamFrame } from './raw-upgrade.ts';

const SECRET = randomBytes(32);

/** Largest growth of `arrayBuffers` (Buffers: what ws buffers for a frame) while `work` runs. */
async function peakGrowth(work: () => Promise<void>): Promise<{ arrayBuffers: number; rss: number }> {
  const base = process.memoryUsage();
  let peak = { arrayBuffers: 0, rss: 0 };
  const timer = setInterval(() => {
    const now = process.memoryUsage();
    peak = {
      arrayBuffers: Math.max(peak.arrayBuffers, now.arrayBuffers - base.arrayBuffers),
      rss: Math.max(peak.rss, now.rss - base.rss),
    };
  }, 2);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return peak;
}

const MiB = 1024 * 1024;

describe('connections before their handshake', () => {
  test('sockets each streaming a large frame before the hello are cut after a few KiB; memory stays flat; a live link keeps working', async (t) => {
    const b = await startNode(2, { clusterSecret: SECRET, handshakesPerAddressMax: 64 });
    const a = await startNode(1, { clusterSecret: SECRET, peers: [{ id: 2, address: b.address }] });
    try {
      await waitFor(() => a.transport.stats()[0]!.connected, 'a live link');
      const sockets = 32;
      const frameBytes = 8 * MiB;
      const upgrades = await Promise.all(Array.from({ length: sockets }, () => rawUpgrade(b.address)));
      assert.deepEqual(
        upgrades.map((u) => u.status),
        upgrades.map(() => 101),
      );
      let sent: number[] = [];
      const growth = await peakGrowth(async () => {
        sent = await Promise.all(upgrades.map((u) => streamFrame(u.socket, frameBytes)));
        await Promise.all(upgrades.map((u) => u.closed));
      });
      t.diagnostic(
        `peak growth: Buffers ${(growth.arrayBuffers / MiB).toFixed(2)} MiB, rss ${(growth.rss / MiB).toFixed(1)} MiB; ` +
          `largest bytes handed to one socket before its cut: ${Math.max(...sent)}`,
      );
      for (const bytes of sent) assert.ok(bytes < frameBytes, `a socket was cut after ${bytes} of ${frameBytes} bytes`);
      assert.ok(growth.arrayBuffers < 4 * MiB, `Buffers grew by ${(growth.arrayBuffers / MiB).toFixed(1)} MiB`);
      assert.ok(growth.rss < 48 * MiB, `rss grew by ${(growth.rss / MiB).toFixed(1)} MiB`);
      assert.ok(b.log.warnings(`(at most ${HANDSHAKE_RECEIVED_BYTES_MAX})`).length >= 1, 'the cut is logged');
      await waitFor(() => b.transport.inboundInHandshake() === 0, 'every slot freed');
      a.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term: 5 });
      await waitFor(() => b.inbox.length === 1, 'the live link still delivers');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('the byte bound is over the whole handshake, not per frame: a message in many small fragments is cut too', async () => {
    const b = await startNode(2, { clusterSecret: SECRET });
    try {
      const u = await rawUpgrade(b.address);
      assert.equal(u.status, 101);
      // One binary message in 1 KiB fragments (no FIN): ws would gather them up to maxPayload.
      const fragment = (first: boolean): Buffer => {
        const header = Buffer.from([first ? 0x02 : 0x00, 0x80 | 126, 0x04, 0x00]);
        return Buffer.concat([header, randomBytes(4), Buffer.alloc(1024)]);
      };
      for (let i = 0; i < 64 && !u.socket.destroyed; i++) u.socket.write(fragment(i === 0));
      const closedInTime = await Promise.race([u.closed.then(() => true), sleep(2000).then(() => false)]);
      u.socket.destroy();
      assert.ok(closedInTime, 'the connection is cut before the handshake deadline');
    } finally {
      await b.close();
    }
  });

  test('connections in their handshake are bounded per remote address (429) and in total (503); slots free at close and admission', async () => {
    const b = await startNode(2, { clusterSecret: SECRET, handshakesPerAddressMax: 3, handshakesMax: 100 });
    try {
      const held = await Promise.all([1, 2, 3].map(() => rawUpgrade(b.address)));
      assert.deepEqual(
        held.map((u) => u.status),
        [101, 101, 101],
      );
      const extra = await rawUpgrade(b.address);
      assert.equal(extra.status, 429);
      await extra.closed;
      held[0]!.socket.destroy();
      await waitFor(() => b.transport.inboundInHandshake() === 2, 'a slot freed at close');
      const again = await rawUpgrade(b.address);
      assert.equal(again.status, 101);
      // A real member takes the last slot and frees it at admission.
      again.socket.destroy();
      await waitFor(() => b.transport.inboundInHandshake() === 2, 'freed');
      const a = await startNode(1, { clusterSecret: SECRET, peers: [{ id: 2, address: b.address }] });
      try {
        await waitFor(() => a.transport.stats()[0]!.connected, 'the member is admitted');
        assert.equal(b.transport.inboundInHandshake(), 2, 'an admitted connection holds no slot');
      } finally {
        await a.close();
      }
      assert.ok(b.log.warnings('already 3 from one address connections in their handshake').length >= 1);
      for (const u of held) u.socket.destroy();
    } finally {
      await b.close();
    }
    const c = await startNode(3, { handshakesPerAddressMax: 100, handshakesMax: 2 });
    try {
      const held = await Promise.all([1, 2].map(() => rawUpgrade(c.address)));
      const extra = await rawUpgrade(c.address);
      assert.equal(extra.status, 503);
      // The refusal says nothing more than its status line.
      for (const u of held) u.socket.destroy();
    } finally {
      await c.close();
    }
  });

  test('a frame header announcing more than the bound, with no payload yet, is cut once the bytes come', async () => {
    const b = await startNode(2);
    try {
      const u = await rawUpgrade(b.address);
      u.socket.write(frameHeader(HANDSHAKE_RECEIVED_BYTES_MAX * 4));
      u.socket.write(Buffer.alloc(HANDSHAKE_RECEIVED_BYTES_MAX + 1));
      const closedInTime = await Promise.race([u.closed.then(() => true), sleep(2000).then(() => false)]);
      u.socket.destroy();
      assert.ok(closedInTime);
    } finally {
      await b.close();
    }
  });
});

// An entry stamped with apply rules newer than this binary's (EntryStamp.rules): replicas
// that know the rules apply it, so a node that does not (its binary was downgraded below the
// version that wrote its log) must not skip it and carry on with a state that differs from
// theirs. It stops, naming the entry and the remedy, with the entry not applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { openFileLog } from '../../src/log/file-log.ts';
import { encodeCommand } from '../../src/node/command-codec.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { APPLY_RULES_VERSION, type Command } from '../../src/store/commands.ts';
import { withTempDir } from '../log/helpers.ts';

const silent = pino({ level: 'silent' });
const options = { snapshotThreshold: 1_000, requestTimeoutMs: 10_000, logger: silent } as const;

test('a log entry of newer apply rules stops the node that replays it; the entries before it stand', async () => {
  await withTempDir(async (dir) => {
    const first = RaftNode.standalone(await openFileLog({ dir }), options);
    await first.leadingAndCaughtUp(5000);
    const made = await first.execute({ type: 'insert', collection: 'c', docs: [{ _id: 'before' }] });
    assert.equal(made.ok, true, JSON.stringify(made));
    await first.close(1000);

    // What a newer binary would have written and committed next.
    const log = await openFileLog({ dir });
    const index = log.lastIndex() + 1;
    const hardState = log.hardState();
    const command: Command = {
      type: 'insert',
      collection: 'c',
      docs: [{ _id: 'newer' }],
      timeMs: Date.now(),
      nodeId: 1,
      rules: APPLY_RULES_VERSION + 1,
    };
    await log.append([{ index, term: hardState.term, type: 'normal', data: encodeCommand(command) }]);
    await log.setHardState({ ...hardState, commit: index });
    await log.close();

    const node = RaftNode.standalone(await openFileLog({ dir }), options);
    try {
      const fatal = await new Promise<Error>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the node went on: the entry was skipped, not refused')), 5000);
        node.onFatal((error) => {
          clearTimeout(timer);
          resolve(error);
        });
      });
      assert.match(fatal.message, new RegExp(`^log entry ${index} was proposed under apply rules this binary does not have`));
      assert.match(fatal.message, /downgraded/);
      assert.equal(node.store.lastApplied, index - 1, 'stopped before the entry, every entry before it applied');
      assert.ok(node.store.get('c', 'before') !== undefined);
      assert.equal(node.store.get('c', 'newer'), undefined);
    } finally {
      await node.close(1000).catch(() => {});
    }
  });
});

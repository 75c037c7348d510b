// Validation of snapshot metadata handed to a log (both implementations).
import { isMemberAddress } from '../raft/configuration.ts';
import type { SnapshotMeta } from '../raft/types.ts';

function isIdList(value: unknown): boolean {
  return Array.isArray(value) && value.every((v) => Number.isSafeInteger(v) && (v as number) >= 0);
}

export function assertValidSnapshotMeta(meta: SnapshotMeta): void {
  if (!Number.isSafeInteger(meta.index) || meta.index < 1)
    throw new RangeError(`snapshot index must be a positive integer, got ${String(meta.index)}`);
  if (!Number.isSafeInteger(meta.term) || meta.term < 0)
    throw new RangeError(`snapshot term must be a non-negative integer, got ${String(meta.term)}`);
  if (typeof meta.conf !== 'object' || meta.conf === null || !isIdList(meta.conf.voters) || !isIdList(meta.conf.learners)) {
    throw new RangeError('snapshot conf must hold voters and learners as arrays of node ids');
  }
  const addresses = meta.conf.addresses;
  if (addresses !== undefined && !(Array.isArray(addresses) && addresses.every((a) => isIdList([a.id]) && isMemberAddress(a.address)))) {
    throw new RangeError('snapshot conf addresses must be {id, address} rows with host:port addresses');
  }
}

// The Raft consensus core: a pure, deterministic state machine (see core.ts).
export { RaftCore } from './core.ts';
export { readyDurability, type ReadyDurability } from './ready-durability.ts';
export { isFromLeader, ticksFirst } from './stalled-ticks.ts';
export {
  encodeConfChange,
  decodeConfChange,
  decodeConfEntry,
  isMemberAddress,
  memberAddress,
  rejectConfChange,
  MEMBER_ADDRESS_CHARS_MAX,
  type ConfEntry,
} from './configuration.ts';
export * from './types.ts';

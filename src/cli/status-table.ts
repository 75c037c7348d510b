// Renders a /cluster/status answer as text: one header line, then an aligned table of
// members. Pure: the table is tested without a cluster.
import type { ClusterStatus } from '../client/index.ts';

const COLUMNS = ['ID', 'URL', 'ROLE', 'MATCH', 'LAG', 'CONNECTED'] as const;

/** The role shown for a member: the status says who leads; the rest follow or learn. */
function roleOf(status: ClusterStatus, id: number, voter: boolean): string {
  if (status.leader !== null && status.leader.id === id) return 'leader';
  if (id === status.nodeId && status.role !== 'leader') return voter ? status.role : `${status.role} (learner)`;
  return voter ? 'follower' : 'learner';
}

export function formatStatus(status: ClusterStatus): string {
  const leader = status.leader === null ? 'none' : `node ${status.leader.id} (${status.leader.url})`;
  const header =
    `leader: ${leader}  term: ${status.term}  commit: ${status.commitIndex}  applied: ${status.appliedIndex}` +
    `  snapshot: ${status.snapshotIndex}  (answered by node ${status.nodeId}, ${status.role})`;
  const rows: string[][] = [...status.members]
    .sort((a, b) => a.id - b.id)
    .map((m) => [
      String(m.id) + (m.id === status.nodeId ? '*' : ''),
      m.url,
      roleOf(status, m.id, m.voter),
      String(m.matchIndex),
      String(m.lag),
      m.id === status.nodeId ? '-' : m.connected ? 'yes' : 'no',
    ]);
  const table = [[...COLUMNS], ...rows];
  const widths = COLUMNS.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  // Numbers right-aligned, text left-aligned; the last column is not padded.
  const numeric = new Set([3, 4]);
  const lines = table.map((row) =>
    row
      .map((cell, c) => (c === row.length - 1 ? cell : numeric.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  return [header, '', ...lines, '', '* the node that answered'].join('\n') + '\n';
}

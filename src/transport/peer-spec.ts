// Parses the --peers option: `127.0.0.1:8081,127.0.0.1:8082`, `2=127.0.0.1:8081,3=host:8082`,
// or a mix of both. Ids may be unknown until the handshake tells them.

export interface PeerAddress {
  /** The peer's node id, when given as `id=host:port`. */
  readonly id?: number;
  /** `host:port` (IPv6 hosts in brackets: `[::1]:8081`). */
  readonly address: string;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Splits `host:port`; throws a clear Error when malformed. */
export function parseAddress(address: string): HostPort {
  // Host names, IPv4, or IPv6 in brackets: nothing a URL would read differently.
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d+)$/.exec(address);
  if (match === null) {
    if (address.startsWith(':')) throw new Error(`peer address "${address}" has an empty host`);
    throw new Error(`peer address "${address}" is not host:port`);
  }
  const host = match[1]!;
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`peer address "${address}" has an invalid port (1-65535)`);
  }
  return { host, port };
}

/** Parses a comma-separated peer list; throws an Error naming the bad entry. */
export function parsePeers(spec: string): PeerAddress[] {
  const peers: PeerAddress[] = [];
  const ids = new Set<number>();
  const addresses = new Set<string>();
  const trimmed = spec.trim();
  if (trimmed === '') return peers;
  for (const raw of trimmed.split(',')) {
    const item = raw.trim();
    if (item === '') throw new Error(`empty entry in peer list "${spec}"`);
    let id: number | undefined;
    let address = item;
    const eq = item.indexOf('=');
    if (eq >= 0) {
      const idText = item.slice(0, eq).trim();
      if (!/^\d+$/.test(idText) || Number(idText) < 1 || !Number.isSafeInteger(Number(idText))) {
        throw new Error(`peer "${item}": node id "${idText}" is not a positive integer`);
      }
      id = Number(idText);
      address = item.slice(eq + 1).trim();
    }
    if (address === '') throw new Error(`peer "${item}": empty address`);
    const { host, port } = parseAddress(address);
    const normalized = `${host.toLowerCase()}:${port}`;
    if (id !== undefined) {
      if (ids.has(id)) throw new Error(`peer "${item}": duplicate node id ${id}`);
      ids.add(id);
    }
    if (addresses.has(normalized)) throw new Error(`peer "${item}": duplicate address ${normalized}`);
    addresses.add(normalized);
    peers.push(id === undefined ? { address: normalized } : { id, address: normalized });
  }
  return peers;
}

// ws delivers a message as a Buffer, an ArrayBuffer or a list of fragments
// depending on binaryType; the transport works with one Buffer.

import type { RawData } from 'ws';

export function rawDataToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

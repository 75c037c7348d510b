// SHA-256 for the audit chain. node:crypto's hash is a pure function of its input (no I/O, no
// state kept between calls), so the store core may use it and stay deterministic.
import { createHash } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

import { createHash } from 'node:crypto';

/** SHA-256 of an API key, hex: the only form in which a key is cached or broadcast. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A SHA-256 in lower-case hex. */
export const KEY_HASH = /^[0-9a-f]{64}$/;

/** A revocation notice on the bus: version, operation, and the key's hash (never the key). */
export interface BusMessage {
  v: 1;
  op: 'revoke' | 'invalidate' | 'clear';
  h?: string;
}

/** Whether a bus payload is a well-formed {@link BusMessage}; anything else is ignored. */
export function isBusMessage(value: unknown): value is BusMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as BusMessage;
  if (m.v !== 1) return false;
  if (m.op === 'clear') return true;
  return (m.op === 'revoke' || m.op === 'invalidate') && typeof m.h === 'string' && KEY_HASH.test(m.h);
}

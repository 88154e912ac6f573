import type { IncomingMessage, ServerResponse } from 'node:http';

/** Requests that came through a server's `'checkContinue'` event: Node has not answered `100 Continue`. */
const awaiting = new WeakSet<IncomingMessage>();

/** Marks `req` as waiting for `100 Continue` (the server's `'checkContinue'` listener). */
export function markAwaitingContinue(req: IncomingMessage): void {
  awaiting.add(req);
}

/** True while `req` waits for `100 Continue`: the forwarder then relays the origin's (or sends its own once an upstream takes the body). */
export function awaitsContinue(req: IncomingMessage): boolean {
  return awaiting.has(req);
}

/**
 * Lets a client waiting for `100 Continue` send its body, for steps that read it themselves (the
 * cache, operator endpoints). Nothing is sent once the answer has started (RFC 9110 §10.1.1: a
 * final status instead of 100 means the body is not wanted).
 */
export function releaseContinue(req: IncomingMessage, res: ServerResponse): void {
  if (!awaiting.delete(req) || res.headersSent || res.writableEnded) return;
  res.writeContinue();
}

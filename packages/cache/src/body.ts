import type { Readable } from 'node:stream';

/** A body read up to a limit. */
export interface BufferedBody {
  chunks: Buffer[];
  size: number;
  /** False when the limit was reached first: the stream is paused with the rest unread. */
  complete: boolean;
}

function ignoreError(): void {}

/**
 * Reads `body` into memory until it ends or exceeds `max` bytes. On overflow the stream is left
 * paused so the caller can stream the rest after the chunks already read.
 */
export function readBody(body: Readable, max: number): Promise<BufferedBody> {
  return new Promise<BufferedBody>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(buffer);
      size += buffer.length;
      if (size > max) {
        body.pause();
        cleanup();
        // Until the caller streams the rest, an error must not go unheard (an 'error' without a
        // listener throws); it stays in `body.errored` for the caller to see.
        body.on('error', ignoreError);
        resolve({ chunks, size, complete: false });
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ chunks, size, complete: true });
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}

/** Discards a body we will not use, so the origin connection is released. */
export function discardBody(body: Readable | undefined): void {
  if (!body || body.destroyed) return;
  body.on('error', () => {});
  body.destroy();
}

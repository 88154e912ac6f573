import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readBody } from '../src/body.js';

describe('readBody', () => {
  it('leaves an over-limit body paused with a listener for its errors until the caller streams the rest', async () => {
    const body = new PassThrough();
    body.write(Buffer.alloc(10));
    const read = await readBody(body, 5);
    expect(read).toMatchObject({ size: 10, complete: false });
    // The origin fails before anyone streams the rest: no uncaught 'error', the error is kept.
    body.destroy(new Error('origin reset'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(body.errored?.message).toBe('origin reset');
  });

  it('reads a body that ends within the limit whole', async () => {
    const body = new PassThrough();
    body.end('abc');
    expect(await readBody(body, 5)).toMatchObject({ size: 3, complete: true });
  });
});

import { createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { rawExchange, send, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function setup(behaviour: Parameters<typeof startUpstream>[1]) {
  const eu = await startUpstream('eu', behaviour);
  cleanup.push(() => eu.close());
  const forwarder = createForwarder({ regions: [eu.region()] });
  const errors: Array<{ code: string; status: number }> = [];
  forwarder.on('error', (e) => errors.push(e));
  const front = await startFront(forwarder);
  cleanup.push(async () => {
    await front.close();
    await forwarder.close();
  });
  return { eu, front, errors };
}

describe('forwarding', () => {
  it('relays HEAD, 204 and 304 answers without a body', async () => {
    const { front } = await setup({
      kind: 'custom',
      handle: (req, res) => {
        if (req.url === '/head') {
          res.writeHead(200, { 'content-length': 1234, etag: '"v1"' });
          res.end();
        } else if (req.url === '/204') {
          res.writeHead(204);
          res.end();
        } else {
          res.writeHead(304, { etag: '"v1"' });
          res.end();
        }
      },
    });
    const head = await send(`${front.url}/head`, { method: 'HEAD' });
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe('1234');
    expect((await send(`${front.url}/204`)).status).toBe(204);
    const notModified = await send(`${front.url}/304`, { headers: { 'if-none-match': '"v1"' } });
    expect(notModified).toMatchObject({ status: 304, body: '' });
    expect(notModified.headers.etag).toBe('"v1"');
  });

  it('keeps the client connection alive across forwarded requests', async () => {
    const { front, eu } = await setup({ kind: 'ok' });
    const answer = await rawExchange(front.port, 'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(answer.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    expect(eu.received.map((r) => r.url)).toEqual(['/1', '/2']);
  });

  it('cuts the client connection when the upstream body breaks after the headers were sent', async () => {
    const { front, errors } = await setup({
      kind: 'custom',
      handle: (_req, res) => {
        res.writeHead(200, { 'content-length': 1_000 });
        res.write('only part of it');
        setTimeout(() => res.socket?.destroy(), 20);
      },
    });
    const answer = await rawExchange(front.port, 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('only part of it');
    expect(errors).toEqual([expect.objectContaining({ code: 'EBODY', status: 200 })]);
  });
});

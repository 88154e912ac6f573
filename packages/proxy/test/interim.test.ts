import { createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { rawExchange, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function setup() {
  const eu = await startUpstream('eu', {
    kind: 'custom',
    handle: (_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('final');
    },
  });
  cleanup.push(() => eu.close());
  const forwarder = createForwarder({ regions: [eu.region()] });
  return { eu, forwarder };
}

describe('1xx interim responses (RFC 9110 §15.2)', () => {
  it('relays 103 Early Hints from the upstream before the final response', async () => {
    const { forwarder } = await setup();
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    const response = await rawExchange(front.port, 'GET /page HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style\.css>; rel=preload; as=style\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(response).toContain('final');
  });

  it('never sends a 1xx to an HTTP/1.0 client', async () => {
    const { forwarder } = await setup();
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    const response = await rawExchange(front.port, 'GET /page HTTP/1.0\r\nHost: shop.example\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response).not.toMatch(/103/);
  });

  it('hands interim responses to forward() callers through onInformational', async () => {
    const { forwarder } = await setup();
    const seen: Array<{ status: number; link: unknown }> = [];
    const front = await startFront(async (req, res) => {
      const answer = await forwarder.forward(req, { onInformational: (status, headers) => seen.push({ status, link: headers.link }) });
      res.writeHead(answer.statusCode, answer.headers);
      answer.body.pipe(res);
    });
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    const response = await rawExchange(front.port, 'GET /page HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(seen).toEqual([{ status: 103, link: '</style.css>; rel=preload; as=style' }]);
  });
});

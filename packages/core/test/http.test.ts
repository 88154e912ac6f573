import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, listen } from '@edgekit/test-utils';
import { firstHeader, joinedHeader, sendProblem } from '../src/index.js';

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
});

describe('sendProblem', () => {
  it('answers with an RFC 9457 body, content type and extra headers', async () => {
    const server = createServer((_req, res) =>
      sendProblem(res, { status: 503, title: 'Service Unavailable', detail: 'every breaker is open', regionsTried: ['eu'] }, { 'retry-after': 7 }),
    );
    servers.push(server);
    const port = await listen(server);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('retry-after')).toBe('7');
    expect(await response.json()).toEqual({
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      detail: 'every breaker is open',
      regionsTried: ['eu'],
    });
  });
});

describe('header helpers', () => {
  it('reads first and joined values of string and array headers', () => {
    const headers = { 'x-a': ['1', '2'], 'x-b': 'z' };
    expect(firstHeader(headers, 'x-a')).toBe('1');
    expect(joinedHeader(headers, 'x-a')).toBe('1, 2');
    expect(firstHeader(headers, 'x-b')).toBe('z');
    expect(firstHeader(headers, 'missing')).toBeUndefined();
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNginx } from '@edgekit/test-utils';

/** A reverse proxy started in front of the gateway on a free port. */
export interface Front {
  readonly name: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** nginx with its usual reverse-proxy settings: `proxy_pass` without a URI forwards the target as the client sent it. */
export async function startNginxFront(upstreamPort: number): Promise<Front> {
  const port = await freePort();
  const handle = await startNginx(
    `  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }`,
    { readyUrl: `http://127.0.0.1:${port}/health` },
  );
  return { name: 'nginx', port, stop: handle.stop };
}

/** HAProxy in HTTP mode with default settings. */
export async function startHaproxyFront(upstreamPort: number): Promise<Front> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'edgekit-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(
    file,
    `global
  maxconn 256
defaults
  mode http
  option forwardfor
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend edge
  bind 127.0.0.1:${port}
  default_backend gateway
backend gateway
  server gw 127.0.0.1:${upstreamPort}
`,
  );
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error('haproxy did not start');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { name: 'haproxy', port, stop };
}

/** Writes `text` on a fresh TCP connection and returns what comes back until the server closes or `untilMs` passes. */
export function rawExchange(port: number, text: string, untilMs = 10_000): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, untilMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(text, 'latin1');
  });
}

/** The status code of the first response in `raw`, 0 when there is none. */
export const statusOf = (raw: string): number => Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? 0);

/** A request head with `Host` and `Connection: close` unless the extra headers set a connection. */
export function requestHead(method: string, target: string, extra: Record<string, string> = {}): string {
  const headers = { host: 'shop.example', connection: 'close', ...extra };
  return `${method} ${target} HTTP/1.1\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { closeServer, listen } from '@edgekit/test-utils';

/** How the upstream answers one path. */
export interface Route {
  status?: number;
  body?: string;
  /** Never answer: the request stays pending until the client gives up. */
  hang?: boolean;
}

/** A real HTTP server on loopback whose health routes the test scripts. */
export interface Upstream {
  readonly url: string;
  readonly server: Server;
  routes: Map<string, Route>;
  /** Requests received per path. */
  hits(path: string): number;
  /** Requests that are hanging right now. */
  readonly hanging: number;
  /** Hanging requests whose socket the client closed. */
  readonly abortedByClient: number;
  /** Open TCP connections. */
  connections(): Promise<number>;
  close(): Promise<void>;
}

export async function startUpstream(routes: Record<string, Route> = {}): Promise<Upstream> {
  const table = new Map<string, Route>(Object.entries(routes));
  const hits = new Map<string, number>();
  const hangingResponses = new Set<ServerResponse>();
  let abortedByClient = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = table.get(path) ?? { status: 404 };
    if (route.hang) {
      hangingResponses.add(res);
      res.once('close', () => {
        hangingResponses.delete(res);
        if (!res.writableEnded) abortedByClient++;
      });
      return;
    }
    res.statusCode = route.status ?? 200;
    res.end(route.body ?? 'ok');
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    routes: table,
    hits: (path) => hits.get(path) ?? 0,
    get hanging() {
      return hangingResponses.size;
    },
    get abortedByClient() {
      return abortedByClient;
    },
    connections: () => new Promise<number>((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count)))),
    async close() {
      for (const res of hangingResponses) res.destroy();
      await closeServer(server);
    },
  };
}

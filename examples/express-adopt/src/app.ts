import { createForwarder } from '@edgekit/proxy';
import { expressForwarder } from '@edgekit/proxy/express';
import express from 'express';

/** Where the API runs. */
export interface Upstreams {
  eu: string;
  us: string;
}

/**
 * The service as it was (its own routes), plus the lines that adopt the forwarder: `/api` goes to
 * the EU region, or to the US region when the EU one fails.
 */
export function createApp(upstreams: Upstreams): { app: express.Express; close(): Promise<void> } {
  const app = express();
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  // --- adoption: these lines are all it takes -------------------------------------------------
  const forwarder = createForwarder({
    regions: [
      { name: 'eu-central', url: upstreams.eu, location: { lat: 50.11, lon: 8.68 } },
      { name: 'us-east', url: upstreams.us, location: { lat: 39.04, lon: -77.49 } },
    ],
  });
  app.use('/api', expressForwarder(forwarder)); // mount before body parsers: bodies stream through
  // ----------------------------------------------------------------------------------------------

  app.use(express.json());
  app.post('/echo', (req, res) => {
    res.json(req.body);
  });
  return { app, close: () => forwarder.close() };
}

/** One benchmark gateway: the forwarder alone, or with metrics, tracing, or both. */
import http from 'node:http';
import { createInterface } from 'node:readline';
import { createForwarder } from '@edgekit/proxy';
import type { ExportResult } from '@opentelemetry/core';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { createEdgeMetrics, createEdgeTracing } from '../src/index.js';

const [mode = 'none', upstreamUrl = '', processor = 'batch'] = process.argv.slice(2);

/** Counts spans and drops them: the cost measured is recording, not exporting. */
class DiscardingExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.spans += spans.length;
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const regions = [{ name: 'eu-west', url: upstreamUrl, location: { lat: 50.1, lon: 8.7 } }];
const forwarder = createForwarder({ regions, locate: () => ({ continent: 'EU', country: 'DE', source: 'custom' }) });
let handler: http.RequestListener = forwarder.handler;
if (mode === 'metrics' || mode === 'both') {
  const metrics = createEdgeMetrics({ registry: new Registry(), location: 'eu-west', regions });
  metrics.observeForwarder(forwarder);
  handler = metrics.wrapHandler(handler);
}
if (mode === 'tracing' || mode === 'both') {
  const exporter = new DiscardingExporter();
  const spanProcessor = processor === 'simple' ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter, { maxQueueSize: 65_536, maxExportBatchSize: 4_096, scheduledDelayMillis: 200 });
  const provider = new BasicTracerProvider({ spanProcessors: [spanProcessor] });
  const tracing = createEdgeTracing({ location: 'eu-west', nodeId: 'bench-1', tracerProvider: provider });
  tracing.observeForwarder(forwarder);
  handler = tracing.wrapHandler(handler);
}
const server = http.createServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`port ${typeof address === 'object' && address !== null ? address.port : 0}`);
});
// `cpu` on stdin: prints this process's CPU time so far, in microseconds (user + system).
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'cpu') return;
  const usage = process.cpuUsage();
  console.log(`cpu ${usage.user + usage.system}`);
});
process.stdin.on('end', () => process.exit(0));

// One demo origin in its own process for the benchmark: prints `READY <url>`.
import { startDemoOrigin } from '../src/origin.js';

const origin = await startDemoOrigin({ region: process.argv[2] ?? 'us' });
console.log(`READY ${origin.url}`);
process.on('SIGTERM', () => void origin.close().then(() => process.exit(0)));

import { defineConfig } from 'tsup';
import base from '../../tsup.config.js';

// The NATS driver and the conformance suite are subpaths, so their optional peers load only when imported.
export default defineConfig({ ...(base as object), entry: ['src/index.ts', 'src/nats.ts', 'src/testing.ts'] });

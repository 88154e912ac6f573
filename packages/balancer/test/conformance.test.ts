import { createManualClock } from '@edgekit/core/testing';
import {
  createLeastRequestBalancer,
  createMaglevBalancer,
  createPeakEwmaBalancer,
  createRingHashBalancer,
  createRoundRobinBalancer,
} from '@edgekit/balancer';
import { describeBalancerConformance } from '@edgekit/balancer/testing';

describeBalancerConformance('least-request', (random) => createLeastRequestBalancer({ random }), { weighted: true });
describeBalancerConformance('peak-ewma', (random) => createPeakEwmaBalancer({ random, clock: createManualClock() }), { weighted: true });
describeBalancerConformance('round-robin', () => createRoundRobinBalancer(), { weighted: true });
describeBalancerConformance('ring-hash', (random) => createRingHashBalancer({ random }), { hashing: true, weighted: true });
describeBalancerConformance('maglev', (random) => createMaglevBalancer({ random }), { hashing: true, weighted: true });

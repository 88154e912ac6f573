export type { DurableBus, DurableBusEvents } from './durable-bus.js';
export { JETSTREAM_BUS_DEFAULTS, type JetStreamBusOptions, createJetStreamBus } from './jetstream-bus.js';
export { NATS_BUS_DEFAULTS, type NatsBusOptions, createNatsBus } from './nats-bus.js';

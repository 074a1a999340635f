// fanout/: from a bus event to uWS topics. The registry of distinct filters per account (one
// compiled predicate and one topic each) and the slow-consumer policy with its sweep.
export { Registry, type Compiled, type PublishFn } from './registry.js';
export { startSlowConsumerSweep, sweepSlowConsumers, type Backlogged } from './slow-consumers.js';

// fanout/: from a bus event to uWS topics. The registry of distinct filters per account (one
// compiled predicate and one topic each) and the slow-consumer policy with its sweep.
export { type Compiled, type PublishFn, Registry } from './registry.js';
export { type Backlogged, startSlowConsumerSweep, sweepSlowConsumers } from './slow-consumers.js';

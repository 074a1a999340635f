// inputs/: where events enter the gateway: POST /{api}/publish and the LUNA Handlers channel.
// Both encode through events/ and append to the bus; neither knows about subscribers.

export { LunaBridge, type LunaBridgeOptions, startLunaBridge } from './luna-bridge.js';
export { publishRoutes } from './publish-route.js';

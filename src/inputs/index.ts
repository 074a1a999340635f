// inputs/: where events enter the gateway: POST /{api}/publish and the LUNA Handlers channel.
// Both encode through events/ and append to the bus; neither knows about subscribers.
export { publishRoutes } from './publish-route.js';
export { LunaBridge, startLunaBridge, type LunaBridgeOptions } from './luna-bridge.js';

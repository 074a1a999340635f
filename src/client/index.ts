export {
  type BackoffOptions,
  backoffDelay,
  type LunaClientOptions,
  type LunaGap,
  LunaSenderClient,
  type LunaState,
  subscriptionUrl,
  type WebSocketConstructor,
  type WebSocketLike,
} from './luna-client.js';

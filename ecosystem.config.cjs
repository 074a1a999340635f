// PM2 production setup: `npm run build && pm2 start ecosystem.config.cjs`.
// Fork mode, not cluster mode: uWebSockets.js listens itself and the workers share the port through
// SO_REUSEPORT; PM2's cluster mode would put Node's cluster module in between, which uWS cannot use.
// Each instance is one worker (main.js sees pm_id and does not fork); every worker reads the Redis
// stream and the LUNA bridge lease picks one of them to forward the LUNA Handlers channel.
const os = require('node:os');

module.exports = {
  apps: [
    {
      name: 'luna-sender',
      script: 'dist/src/main.js',
      exec_mode: 'fork',
      // V8's young generation sized once (16 MB semi-spaces, its default maximum) instead of grown
      // in steps under load: RSS stays level (bench/SOAK.md). Stack traces name .ts lines. Same
      // flags as `npm start`.
      node_args: '--enable-source-maps --min-semi-space-size=16 --max-semi-space-size=16',
      instances: Number(process.env.SENDER_WORKERS) || os.cpus().length,
      // `pm2 reload luna-sender` in fork mode is a restart of one instance after the other (PM2 5.4:
      // reloadProcessId falls back to restartProcessId outside cluster mode): SIGINT to the old
      // instance, wait for its exit, start the new one, and only once it sends 'ready' (main.js,
      // after it listens) go on to the next instance. So with 2 or more instances the port always
      // has listeners; the draining instance's subscribers get 1001 and reconnect to them. With
      // more than 2 instances PM2 restarts 2 at a time unless given `--parallel 1` (README).
      wait_ready: true,
      // A worker waits for Redis at start-up. PM2 treats a replacement that is not ready by then as
      // started and goes on to the next instance: keep it above a normal start, below "broken".
      listen_timeout: 15000,
      // SIGINT (PM2's default) starts the drain: stop accepting, 1001 to every socket, in-flight
      // publishes finish (at most SENDER_REDIS_TIMEOUT, default 2 s), then exit. SIGKILL after this.
      kill_timeout: 10000,
      max_memory_restart: '2G',
      exp_backoff_restart_delay: 100,
      env: {
        NODE_ENV: 'production',
        SENDER_PORT: process.env.SENDER_PORT || '5080',
        REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
      },
    },
  ],
};

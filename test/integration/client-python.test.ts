import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT } from '../helpers/http.js';
import { publishEvents, sentinel } from '../helpers/luna-client.js';
import { spawnCaptured } from '../helpers/spawn.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { connect } from '../helpers/ws-client.js';

/**
 * docs/examples/luna_client.py against the real gateway: subscribe with a filter, lose the
 * connection once (a TCP proxy destroys its sockets), resume, and print exactly what an
 * uninterrupted twin received. Debian's python3-websockets installs for /usr/bin/python3 only, so
 * that interpreter is named explicitly.
 */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../../docs/examples/luna_client.py', import.meta.url));
const probe = spawnSync(PYTHON, ['-c', 'import websockets'], { encoding: 'utf8' });
const skip =
  probe.status === 0 ? false : `${PYTHON} cannot import websockets (apt-get install -y python3-websockets): ${probe.error?.message ?? probe.stderr.trim()}`;

let gw: Gateway;
before(async () => {
  if (!skip) gw = await startGateway();
});
after(() => gw?.stop());

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));

test('the Python example resumes after a drop: no gap, no duplicate, the same frames as a twin', { skip }, async () => {
  const proxy = await startTcpProxy(gw.port);
  const twin = await connect(`ws://127.0.0.1:${gw.port}/2/ws?positions=1&gender=1`, { 'Luna-Account-Id': ACCOUNT });
  // 6 events per publishEvents(12) pass gender=1, plus one sentinel each time: 3 * 7 = 21.
  const count = 21;
  const py = spawnCaptured(
    PYTHON,
    [
      SCRIPT,
      '--url',
      `ws://127.0.0.1:${proxy.port}`,
      '--account',
      ACCOUNT,
      '--filters',
      'gender=1',
      '--count',
      String(count),
      '--backoff-initial',
      '0.02',
      '--backoff-max',
      '0.2',
    ],
    {},
  );
  const states = () => jsonLines(py.stderr()).filter((l) => 'state' in l);
  const opens = () => states().filter((s) => s.state === 'open').length;
  try {
    await waitFor(() => opens() === 1, `the example's first open\n${py.stderr()}`);
    await publishEvents(gw, 12);
    await sentinel(gw, [twin]);
    await waitFor(() => jsonLines(py.stdout()).length === 7, 'the first events');
    proxy.drop({ hold: true });
    await waitFor(() => states().some((s) => s.state === 'waiting'), `the drop noticed\n${py.stderr()}`);
    await publishEvents(gw, 12);
    await sentinel(gw, [twin]);
    proxy.restore();
    await waitFor(() => opens() === 2, `reconnected\n${py.stderr()}`);
    await publishEvents(gw, 12);
    await sentinel(gw, [twin]);
    assert.equal(await py.exited, 0, py.stderr());
    const got = jsonLines(py.stdout());
    assert.deepEqual(
      got.map((l) => l.frame),
      twin.messages,
    );
    assert.deepEqual(
      got.map((l) => l.position),
      twin.messages.map((m) => JSON.parse(m).position),
    );
    const resumed = states().filter((s) => s.state === 'connecting')[1];
    assert.equal(resumed.resume, got[6].position, 'the second connection resumed from the last event before the drop');
    assert.ok(!py.stderr().includes('"gap"'), py.stderr());
  } finally {
    py.child.kill();
    twin.close();
    await proxy.close();
  }
});

test('the Python example reports a refused resume (the gateway restarted) and subscribes afresh', { skip }, async () => {
  const old = await startGateway();
  const proxy = await startTcpProxy(old.port);
  let restarted: Gateway | undefined;
  const py = spawnCaptured(PYTHON, [SCRIPT, '--url', `ws://127.0.0.1:${proxy.port}`, '--account', ACCOUNT, '--count', '2', '--backoff-initial', '0.02'], {});
  const lines = () => jsonLines(py.stderr());
  try {
    await waitFor(() => lines().some((s) => s.state === 'open'), `the example's first open\n${py.stderr()}`);
    await sentinel(old, []);
    await waitFor(() => jsonLines(py.stdout()).length === 1, 'the first event');
    proxy.drop({ hold: true });
    await old.stop();
    restarted = await startGateway();
    proxy.retarget(restarted.port);
    proxy.restore();
    await waitFor(() => lines().filter((s) => s.state === 'open').length === 2, `a fresh subscription\n${py.stderr()}`);
    const gap = lines().find((l) => 'gap' in l)?.gap;
    assert.equal(gap?.reason, 'refused', py.stderr());
    assert.match(gap.detail, /410/);
    const twin = await connect(`ws://127.0.0.1:${restarted.port}/2/ws?positions=1`, { 'Luna-Account-Id': ACCOUNT });
    await sentinel(restarted, [twin]);
    assert.equal(await py.exited, 0, py.stderr());
    assert.equal(jsonLines(py.stdout())[1].frame, twin.messages[0]);
    twin.close();
  } finally {
    py.child.kill();
    await proxy.close();
    await restarted?.stop();
  }
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnGateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, OTHER_ACCOUNT, publishBody } from '../helpers/http.js';
import { makeKeys, sign, type TestKeys } from '../helpers/tokens.js';
import { type Client, connect, type HttpError } from '../helpers/ws-client.js';

/**
 * Around SENDER_AUTH: the JWKS key file (kids), the start-up error without a key, tokens kept out
 * of the logs, the per-account connection limit in both modes, and `none` keeping LP5's behaviour.
 */
let keys: TestKeys;
before(() => {
  keys = makeKeys();
});
after(() => keys.remove());

async function status(p: Promise<Client>): Promise<{ status: number; body: any }> {
  try {
    (await p).close();
    return { status: 101, body: undefined };
  } catch (e) {
    const err = e as HttpError;
    return { status: err.status, body: JSON.parse(err.body) };
  }
}

describe('a JWKS file', () => {
  test('each key verifies with its kid; a kid naming another key, or an algorithm its key has not, is refused', async () => {
    const gw = await startGateway({ SENDER_AUTH: 'jwt', SENDER_AUTH_PUBLIC_KEYS: keys.jwksFile });
    try {
      const url = `ws://127.0.0.1:${gw.port}/1/ws`;
      const ok = [
        await sign(keys.rsa.privateKey, ACCOUNT, { alg: 'RS256', kid: 'rsa-1' }),
        await sign(keys.ec.privateKey, ACCOUNT, { alg: 'ES256', kid: 'ec-1' }),
        await sign(keys.ed.privateKey, ACCOUNT, { alg: 'EdDSA', kid: 'ed-1' }),
        await sign(keys.ed.privateKey, ACCOUNT, { alg: 'EdDSA' }), // no kid: every key of the algorithm is tried
      ];
      for (const t of ok) assert.equal((await status(connect(url, { Authorization: `Bearer ${t}` }))).status, 101);
      const bad = [
        await sign(keys.rsa.privateKey, ACCOUNT, { alg: 'RS256', kid: 'ec-1' }),
        await sign(keys.rsa.privateKey, ACCOUNT, { alg: 'RS256', kid: 'unknown' }),
        await sign(keys.secret, ACCOUNT), // HS256: no secret is configured
      ];
      for (const t of bad) assert.equal((await status(connect(url, { Authorization: `Bearer ${t}` }))).status, 401);
    } finally {
      await gw.stop();
    }
  });
});

describe('scripts/mint-token', () => {
  test('mints tokens the gateway accepts, from the configured secret and from a private key PEM', async () => {
    const { execFileSync } = await import('node:child_process');
    const { writeFileSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const script = fileURLToPath(new URL('../../scripts/mint-token.js', import.meta.url));
    const pem = `${keys.dir}/ed.pem`;
    writeFileSync(pem, keys.ed.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const env = { ...process.env, SENDER_AUTH_HMAC_SECRETS: keys.secret };
    const mint = (...args: string[]) =>
      execFileSync(process.execPath, [script, '--account', ACCOUNT, '--aud', 'a', '--iss', 'i', ...args], { env })
        .toString()
        .trim();
    const gw = await startGateway({
      SENDER_AUTH: 'jwt',
      SENDER_AUTH_HMAC_SECRETS: keys.secret,
      SENDER_AUTH_PUBLIC_KEYS: keys.pemFile,
      SENDER_AUTH_AUDIENCE: 'a',
      SENDER_AUTH_ISSUER: 'i',
    });
    try {
      const url = `ws://127.0.0.1:${gw.port}/1/ws`;
      for (const t of [mint('--filter', 'gender=1', '--ttl', '60'), mint('--key', pem)]) {
        assert.equal((await status(connect(url, { Authorization: `Bearer ${t}` }))).status, 101);
      }
      const viewOnly = mint();
      const p = await http(`${gw.url}/1/publish`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${viewOnly}` },
        body: publishBody([{}]),
      });
      assert.equal(p.status, 403);
      const both = mint('--permissions', 'view,creation');
      const q = await http(`${gw.url}/1/publish`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${both}` },
        body: publishBody([{}]),
      });
      assert.equal(q.status, 201);
      assert.throws(() => mint('--filter', 'gender=7'), /Command failed/);
    } finally {
      await gw.stop();
    }
  });
});

describe('start-up', () => {
  test('SENDER_AUTH=jwt without a key does not start, and says why', async () => {
    await assert.rejects(spawnGateway({ SENDER_AUTH: 'jwt' }), /SENDER_AUTH: \\?"jwt\\?" needs a key/);
  });
  test('a short secret or a private key in the key file does not start', async () => {
    await assert.rejects(spawnGateway({ SENDER_AUTH: 'jwt', SENDER_AUTH_HMAC_SECRETS: 'short' }), /shorter than 32 bytes/);
    const { writeFileSync } = await import('node:fs');
    const file = `${keys.dir}/private.pem`;
    writeFileSync(file, keys.rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    await assert.rejects(spawnGateway({ SENDER_AUTH: 'jwt', SENDER_AUTH_PUBLIC_KEYS: file }), /private key/);
    // Under the supervisor too: refused before any worker is forked (exit 1 with the message).
    await assert.rejects(
      spawnGateway({ SENDER_AUTH: 'jwt', SENDER_AUTH_PUBLIC_KEYS: file, REDIS_URL: 'redis://127.0.0.1:1', SENDER_WORKERS: '2' }),
      /gateway exited with 1[\s\S]*private key/,
    );
  });
});

describe('logging', () => {
  test('tokens appear in no log line and no /config answer', async () => {
    const g = await spawnGateway({ SENDER_AUTH: 'jwt', SENDER_AUTH_HMAC_SECRETS: keys.secret, LOG_LEVEL: 'debug' });
    try {
      const url = `ws://127.0.0.1:${g.port}/1/ws`;
      const t = await sign(keys.secret, ACCOUNT);
      (await connect(`${url}?access_token=${t}`)).close();
      await status(connect(`${url}?gender=9&access_token=${t}`));
      await status(connect(url, { Authorization: `Bearer ${t}x` }));
      await http(`${g.url}/1/publish?access_token=${t}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: publishBody([{}]) });
      const config = await http(`${g.url}/config`);
      assert.ok(!config.text.includes(keys.secret), 'the secret is shown by /config');
      // The lines of these requests are written by now (each before its answer); the stop flushes the rest.
      await g.stop();
      const out = g.stdout() + g.stderr();
      assert.match(out, /"path":"\/1\/publish"/);
      assert.ok(!out.includes(t.split('.')[2]), 'a token (its signature) is in the log');
      assert.ok(!out.includes(keys.secret), 'the secret is in the log');
    } finally {
      await g.stop();
    }
  });
});

describe('SENDER_MAX_CONNECTIONS_PER_ACCOUNT', () => {
  for (const mode of ['none', 'jwt'] as const) {
    test(`${mode}: an account past its limit gets 503 29006 naming the account limit; other accounts are unaffected`, async () => {
      const gw = await startGateway({
        SENDER_MAX_CONNECTIONS_PER_ACCOUNT: '2',
        ...(mode === 'jwt' ? { SENDER_AUTH: 'jwt', SENDER_AUTH_HMAC_SECRETS: keys.secret } : {}),
      });
      try {
        const url = `ws://127.0.0.1:${gw.port}/1/ws`;
        const as = async (account: string): Promise<Record<string, string>> =>
          mode === 'jwt' ? { Authorization: `Bearer ${await sign(keys.secret, account)}` } : { 'Luna-Account-Id': account };
        const held = [await connect(url, await as(ACCOUNT)), await connect(url, await as(ACCOUNT))];
        const third = await status(connect(url, await as(ACCOUNT)));
        assert.equal(third.status, 503);
        assert.equal(third.body.error_code, 29006);
        assert.match(third.body.detail, /account's limit of 2 connections \(SENDER_MAX_CONNECTIONS_PER_ACCOUNT\)/);
        const other = await connect(url, await as(OTHER_ACCOUNT));
        // A place freed by a close is free again (the server's close handler ran before the close frame came back).
        held[0].close();
        await held[0].closed;
        held[0] = await connect(url, await as(ACCOUNT));
        for (const c of [...held, other]) c.close();
      } finally {
        await gw.stop();
      }
    });
  }
});

describe('SENDER_AUTH=none', () => {
  test('keeps LP5 behaviour: no token needed, access_token is an unknown parameter, a bearer. subprotocol is not answered', async () => {
    const gw = await startGateway();
    try {
      const url = `ws://127.0.0.1:${gw.port}/1/ws`;
      const c = await connect(url, { 'Luna-Account-Id': ACCOUNT, Authorization: 'Bearer whatever' });
      assert.equal(c.headers['sec-websocket-protocol'], undefined);
      c.close();
      const r = await status(connect(`${url}?access_token=abc`, { 'Luna-Account-Id': ACCOUNT }));
      assert.equal(r.status, 400);
      assert.equal(r.body.detail, "Unknown query parameter 'access_token'");
      const p = await http(`${gw.url}/1/publish`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: publishBody([{}]) });
      assert.equal(p.status, 403);
    } finally {
      await gw.stop();
    }
  });
});

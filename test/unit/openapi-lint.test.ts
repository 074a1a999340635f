import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { buildOpenApi } from '../../src/openapi/index.js';

/**
 * Redocly's `recommended` ruleset on the generated document (issue 11): no error. The warnings left
 * are operation-2xx-response on GET /{api}/ws (101) and GET /docs/dev (302), which answer no 2xx by
 * design. Redocly runs as a child process (its CLI is its supported interface).
 */
test('redocly lint --extends recommended reports no error on the OpenAPI document', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'openapi-lint-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(buildOpenApi({ maxEvents: 1000 })));
    const cli = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js');
    const { code, out } = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        process.execPath,
        [cli, 'lint', '--extends', 'recommended', '--format', 'summary', file],
        { cwd: dir, timeout: 120_000 },
        (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: `${stdout}\n${stderr}` }),
      ),
    );
    assert.equal(code, 0, out);
    assert.doesNotMatch(out, /^error /m, out);
    const warnings = [...out.matchAll(/^warning (\S+): (\d+)$/gm)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(warnings, ['operation-2xx-response:2'], out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

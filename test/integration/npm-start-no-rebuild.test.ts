import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { killLeftovers, npmStart, ROOT, waitAllGone } from '../helpers/npm-start.js';
import { withTimeout } from '../helpers/timeout.js';

// Regression (pipeline: npm start must not rebuild on every start): `prestart` ran tsc, which
// needs the dev dependencies and write access to dist/. Now `prepare` (run by npm ci) builds, and
// is skipped cleanly without TypeScript; `npm start` only runs dist/. Each test works on a copy of
// the package in a temporary directory (removed afterwards); `npm run prepare` stands in for the
// `npm ci` that would run it, which would need the registry.

function tempPackage(files: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'luna-sender-pkg-'));
  for (const f of files) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  return dir;
}

/** node_modules as `npm ci --omit=dev` leaves it, near enough: every installed package but TypeScript (and no .bin). */
function nodeModulesWithoutTypescript(dir: string): void {
  const nm = join(dir, 'node_modules');
  mkdirSync(nm);
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name === 'typescript' || name === '.bin' || name.startsWith('.package-lock')) continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(nm, name));
  }
}

function npmRun(dir: string, script: string) {
  return spawnSync('npm', ['run', script], { cwd: dir, encoding: 'utf8', timeout: 120000 });
}

test('without TypeScript (npm ci --omit=dev) and with dist/ built, prepare builds nothing and npm start runs dist/ without a compiler', async () => {
  const dir = tempPackage(['package.json', 'dist', 'docs', 'scripts/build-on-install.mjs']);
  try {
    nodeModulesWithoutTypescript(dir);
    const main = join(dir, 'dist', 'src', 'main.js');
    const before = statSync(main).mtimeMs;

    const prepare = npmRun(dir, 'prepare');
    assert.equal(prepare.status, 0, prepare.stdout + prepare.stderr);
    assert.match(prepare.stderr, /TypeScript is not installed .*not building/);
    assert.equal(statSync(main).mtimeMs, before, 'dist/ untouched');

    const run = await npmStart(dir, { REDIS_URL: '', SENDER_WORKERS: '1' });
    try {
      assert.doesNotMatch(run.stdout(), /\btsc\b/, 'npm start does not compile');
      run.child.kill('SIGTERM');
      await waitAllGone(run.pids, run.port);
      assert.equal(await withTimeout(run.exited, 20000, 'npm to exit'), 0);
    } finally {
      killLeftovers(run.pids);
      run.child.kill('SIGKILL');
    }
    assert.equal(statSync(main).mtimeMs, before, 'dist/ still untouched after npm start');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a fresh clone: prepare (what npm ci runs) builds the runtime dist/ from src alone, without test or bench code', () => {
  const dir = tempPackage(['package.json', 'tsconfig.base.json', 'tsconfig.build.json', 'src', 'scripts/build-on-install.mjs']);
  try {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    assert.ok(!existsSync(join(dir, 'dist')));
    const prepare = npmRun(dir, 'prepare');
    assert.equal(prepare.status, 0, prepare.stdout + prepare.stderr);
    assert.ok(existsSync(join(dir, 'dist', 'src', 'main.js')), 'dist/src/main.js built');
    assert.deepEqual(readdirSync(join(dir, 'dist')), ['src'], 'only src is compiled into dist/');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

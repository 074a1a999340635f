// npm's `prepare` step, run by `npm ci` / `npm install` in this folder: builds dist/ (the runtime
// build, tsconfig.build.json) so that a fresh clone needs only `npm ci && npm start`, while
// `npm start` itself never compiles (no dev dependencies and no write access to dist/ needed at
// start, and no rebuild on every start). Without TypeScript, i.e. `npm ci --omit=dev` on an
// already built tree, it builds nothing and succeeds: `npm start` runs the dist/ that is there.
// Plain JavaScript because it runs before anything is compiled.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  const built = existsSync(new URL('../dist/src/main.js', import.meta.url));
  process.stderr.write(
    built
      ? 'luna-sender: TypeScript is not installed (production install); not building, npm start runs the existing dist/\n'
      : 'luna-sender: TypeScript is not installed and dist/ is not built; build it where dev dependencies are installed (npm ci && npm run build) before npm start\n',
  );
  process.exit(0);
}
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });

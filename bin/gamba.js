#!/usr/bin/env node
// Entry point for `npx gamba`: runs the compiled CLI (built by `npm install` through the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cli = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write(`gamba: ${cli} is missing: run \`npm run build\` first\n`);
  process.exit(1);
}
await import(pathToFileURL(cli).href);

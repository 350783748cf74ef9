#!/usr/bin/env node
// Launcher for the wharf CLI. The CLI is TypeScript run by Node's built-in type stripping (Node >= 22.18 / 24),
// which the project pins through the `node` devDependency (node_modules/.bin/node).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `wharf needs Node >= 22.18 (this is ${process.version}). Run it through npx/npm (which use node_modules/.bin/node) ` +
      `or put node_modules/.bin first on PATH.`,
  );
  process.exit(2);
}
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'ExperimentalWarning') console.error(w.stack ?? String(w));
});
const { main } = await import('./cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

// dist/cjs holds CommonJS: mark it so, whatever the importing project's "type" is.
import { writeFileSync } from 'node:fs';
writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{"type":"commonjs"}\n');
writeFileSync(new URL('../dist/esm/package.json', import.meta.url), '{"type":"module"}\n');

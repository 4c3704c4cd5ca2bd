import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The service's source folder. */
export const srcDir = fileURLToPath(new URL('../../src', import.meta.url));

/** Every TypeScript file under `dir`, the browser playground's own build left out. */
export function sourceFiles(dir: string = srcDir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory())
      return path.includes(join('playground', 'client')) ? [] : sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

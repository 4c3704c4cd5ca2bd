import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceFiles, srcDir } from './helpers/src-files.js';

/**
 * Imports point one way: no file imports itself through others, and no two folders of src/ (or a
 * root file and a folder) import each other. The browser playground has its own build and is left out.
 */

const src = srcDir;

const graph = new Map<string, Set<string>>(
  sourceFiles(src).map((file) => {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/from '(\.[^']+)'|import\('(\.[^']+)'\)/g)].map((m) =>
      resolve(dirname(file), (m[1] ?? m[2] ?? '').replace(/\.js$/, '.ts')),
    );
    return [file, new Set(targets)];
  }),
);

/** A folder of src/, or `(root)/<file>` for a file at its root. */
const unit = (file: string) => {
  const path = relative(src, file);
  return path.includes('/') ? (path.split('/')[0] as string) : `(root)/${path}`;
};

describe('the import graph of src/', () => {
  it('has no cycle between files', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, stack: string[]) => {
      state.set(file, 'open');
      stack.push(file);
      for (const target of graph.get(file) ?? []) {
        if (!graph.has(target)) continue;
        if (state.get(target) === 'open') {
          cycles.push(
            stack
              .slice(stack.indexOf(target))
              .map((f) => relative(src, f))
              .join(' → '),
          );
        } else if (state.get(target) === undefined) visit(target, stack);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (state.get(file) === undefined) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('has no two folders (or a root file and a folder) importing each other', () => {
    const edges = new Set<string>();
    for (const [file, targets] of graph) {
      for (const target of targets) {
        if (graph.has(target) && unit(file) !== unit(target)) edges.add(`${unit(file)} → ${unit(target)}`);
      }
    }
    const both = [...edges].filter((edge) => {
      const [from, to] = edge.split(' → ');
      return (from as string) < (to as string) && edges.has(`${to} → ${from}`);
    });
    expect(both).toEqual([]);
  });
});

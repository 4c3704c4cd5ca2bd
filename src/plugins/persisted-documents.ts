import { GraphQLError, parse } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { errorCodes } from '../error-codes.js';
import { extended } from '../runtime/objects.js';
import { sha256 } from './persisted-manifest.js';

/**
 * Known documents by their sha256: a manifest of trusted documents (the GraphQL Code Generator
 * client preset's `persisted-documents.json`, `{ "<sha256>": "<document>" }`) and, unless only
 * trusted documents are allowed, Apollo's automatic persisted queries (a client sends the hash, and
 * the document once when the server does not know it). One resolver for every transport — yoga's
 * HTTP pipeline, the JSON and SSE routes, WebSocket — so `TRUSTED_DOCUMENTS_ONLY` has no side door.
 */

export interface PersistedDocumentsOptions {
  /** Trusted documents by sha256 (hex, lower case). */
  manifest?: ReadonlyMap<string, string>;
  /** Refuse any operation that is not in the manifest (and learn nothing from clients). */
  trustedOnly?: boolean;
  /** Documents learnt from clients (APQ), most recent kept; 0 turns APQ off. */
  maxLearnt?: number;
  /** Their texts together, in UTF-16 units, at most (the oldest go first); 4 Mi by default. */
  maxLearntChars?: number;
}

/**
 * Longer documents are run but not learnt (their clients send them whole each time). Every client
 * may teach this cache, unauthenticated in open mode: only documents that parse, bounded each and
 * together, or 1,000 junk texts of 1 MB held 1.5 GB.
 */
const MAX_LEARNT_DOCUMENT_CHARS = 64 * 1024;

function parses(query: string): boolean {
  try {
    parse(query, { noLocation: true, maxTokens: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** What a transport received: a document, or its id, or both (APQ registration). */
export interface DocumentRequest {
  query?: string | null | undefined;
  documentId?: unknown;
  extensions?: Record<string, unknown> | null | undefined;
}

export type ResolvedDocument = { query: string } | { error: GraphQLError };

export const persistedCodes = {
  notFound: errorCodes.persistedQueryNotFound,
  only: errorCodes.persistedQueryOnly,
  hashMismatch: errorCodes.persistedQueryHashMismatch,
} as const;

const requestError = { spec: true, status: 400 } as const;

function refusal(message: string, code: string): { error: GraphQLError } {
  return { error: new GraphQLError(message, { extensions: { code, http: requestError } }) };
}

/** The id a request names: the client preset's `documentId` (`sha256:` prefix allowed) or APQ's hash. */
function requestedId(request: DocumentRequest): string | undefined {
  if (typeof request.documentId === 'string')
    return request.documentId.replace(/^sha256:/i, '').toLowerCase();
  const persisted = request.extensions?.persistedQuery as
    | { version?: unknown; sha256Hash?: unknown }
    | undefined;
  if (persisted?.version === 1 && typeof persisted.sha256Hash === 'string')
    return persisted.sha256Hash.toLowerCase();
  return undefined;
}

export interface PersistedDocuments {
  readonly trustedOnly: boolean;
  resolve(request: DocumentRequest): ResolvedDocument;
}

export function createPersistedDocuments(options: PersistedDocumentsOptions = {}): PersistedDocuments {
  const manifest = options.manifest ?? new Map<string, string>();
  const trustedOnly = options.trustedOnly ?? false;
  const maxLearnt = trustedOnly ? 0 : (options.maxLearnt ?? 1_000);
  const maxLearntChars = options.maxLearntChars ?? 4 * 1024 * 1024;
  const learnt = new Map<string, string>();
  let learntChars = 0;

  function learn(id: string, query: string): void {
    if (maxLearnt === 0 || query.length > MAX_LEARNT_DOCUMENT_CHARS || !parses(query)) return;
    learntChars += query.length - (learnt.get(id)?.length ?? 0);
    learnt.delete(id);
    learnt.set(id, query);
    while (learnt.size > maxLearnt || learntChars > maxLearntChars) {
      const [oldest, text] = learnt.entries().next().value as [string, string];
      learnt.delete(oldest);
      learntChars -= text.length;
    }
  }

  return {
    trustedOnly,
    resolve(request) {
      const query = typeof request.query === 'string' && request.query !== '' ? request.query : undefined;
      const id = requestedId(request);
      if (id === undefined) {
        if (trustedOnly)
          return refusal('Only trusted documents may run here: send the document id.', persistedCodes.only);
        return query === undefined ? { query: '' } : { query };
      }
      const known = manifest.get(id) ?? learnt.get(id);
      if (query === undefined) {
        // APQ clients know this message: they send the document with its hash next.
        return known === undefined
          ? refusal('PersistedQueryNotFound', persistedCodes.notFound)
          : { query: known };
      }
      if (trustedOnly && known === undefined) {
        return refusal(
          'Only trusted documents may run here: this one is not in the list.',
          persistedCodes.only,
        );
      }
      if (sha256(query) !== id) {
        return refusal('The document does not match its sha256 hash.', persistedCodes.hashMismatch);
      }
      if (known === undefined) learn(id, query);
      return { query };
    },
  };
}

/** The refusal for a transport without HTTP statuses (WebSocket, SSE events): no `http` extension. */
export function streamRefusal(error: GraphQLError): GraphQLError {
  const { http: _http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { extensions });
}

/** yoga's HTTP pipeline: the params get the known document, or the request its refusal. */
export function usePersistedDocuments(documents: PersistedDocuments): Plugin {
  return {
    onParams({ params, request, setParams }) {
      const body = params as typeof params & { documentId?: unknown };
      // GET requests carry `documentId` in the URL rather than in the params yoga parsed.
      const documentId = body.documentId ?? new URL(request.url).searchParams.get('documentId') ?? undefined;
      const resolved = documents.resolve(extended(body, { documentId }));
      if ('error' in resolved) throw resolved.error;
      if (resolved.query !== '') setParams(extended(params, { query: resolved.query }));
    },
  };
}

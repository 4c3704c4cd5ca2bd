import { Kind, parse } from 'graphql';

/**
 * A label whose values come from clients (operation names, model names): each new value is a new
 * time series in every scraper, so past a fixed number of distinct values the rest read `other`.
 * Values known in advance (a trusted-documents manifest's operation names) are always kept.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  private readonly known: ReadonlySet<string>;

  constructor(
    private readonly limit: number,
    known: Iterable<string> = [],
  ) {
    this.known = new Set(known);
  }

  /**
   * The label for `value`. A value not seen before takes one of the limited places only when
   * `admit` (the event succeeded): else a client sending failing requests under ever new names
   * would fill them all and leave every later real name reading `other`.
   */
  of(value: string, admit = true): string {
    if (this.known.has(value) || this.seen.has(value)) return value;
    // Long values are noise in a label and make every scrape heavier.
    if (!admit || this.seen.size >= this.limit || value.length > 100) return 'other';
    this.seen.add(value);
    return value;
  }
}

/** The names of the operations in known documents (a trusted-documents manifest). */
export function operationNamesOf(documents: Iterable<string>): string[] {
  const names: string[] = [];
  for (const document of documents) {
    try {
      for (const definition of parse(document).definitions) {
        if (definition.kind === Kind.OPERATION_DEFINITION && definition.name)
          names.push(definition.name.value);
      }
    } catch {
      // The manifest's documents were checked at start; one that does not parse names nothing.
    }
  }
  return names;
}

import { isNode, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';

/**
 * A configuration file in YAML or JSON (JSON is YAML), parsed and checked against its zod schema,
 * every problem naming its line and field: UPSTREAMS_FILE and PROMPTS_FILE both read this way.
 */

export type ConfigPath = readonly PropertyKey[];

/** Builds the error of a file's problem: "line N, field: message". */
export type Problem = (path: ConfigPath, message: string) => Error;

function describePath(path: ConfigPath): string {
  return path.reduce<string>(
    (text, key) =>
      typeof key === 'number' ? `${text}[${key}]` : text === '' ? String(key) : `${text}.${String(key)}`,
    '',
  );
}

/**
 * The file's checked contents, and `problem` for what the caller checks beyond the schema. `fail`
 * makes the file's own error class; `describe` words a schema issue (zod's own words by default).
 */
export function parseConfigFile<Schema extends z.ZodType>(
  text: string,
  schema: Schema,
  fail: (message: string) => Error,
  describe: (issue: z.core.$ZodIssue) => string = (issue) => issue.message,
): { data: z.infer<Schema>; problem: Problem } {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const syntax = document.errors[0];
  if (syntax !== undefined) {
    throw fail(`line ${lines.linePos(syntax.pos[0]).line}: ${syntax.message.split('\n')[0]}`);
  }
  // The field's own line, or its nearest parent's that exists.
  const problem: Problem = (path, message) => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? document.contents : document.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) {
        const where = describePath(path);
        return fail(`line ${lines.linePos(node.range[0]).line}${where ? `, ${where}` : ''}: ${message}`);
      }
    }
    return fail(`${describePath(path) || 'the file'}: ${message}`);
  };
  let value: unknown;
  try {
    // Aliases may be used 1,000 times (the library's default, 100, refused files that share one
    // anchor among many templates); past that, or a nest of aliases built to blow up, is refused.
    value = document.toJS({ maxAliasCount: 1_000 });
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : 'unreadable';
    throw fail(`the file uses aliases (*name) too much (${reason})`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    throw problem(issue.path, describe(issue));
  }
  return { data: parsed.data, problem };
}

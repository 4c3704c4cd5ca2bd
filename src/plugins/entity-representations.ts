import {
  type ConstDirectiveNode,
  GraphQLError,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isLeafType,
  isUnionType,
  Kind,
} from 'graphql';
import { errorCodes } from '../error-codes.js';

/**
 * The representations an operation passes to `_entities`, checked before anything runs: each one an
 * object whose `__typename` names an entity type of this subgraph and which holds that type's key
 * fields, of their types. A gateway only ever sends such representations; anything else is a
 * client's mistake or probe, refused as a whole (`BAD_USER_INPUT`, naming the representation),
 * rather than reaching a resolver as an unknown type, a storage lookup of an object id, or a paid
 * call for the well-formed entities beside it.
 */

/** A key's fields as the schema's scalar type names (`undefined` for a nested selection). */
type Key = readonly { name: string; type: string | undefined }[];

const keysBySchema = new WeakMap<GraphQLSchema, ReadonlyMap<string, readonly Key[]>>();

/** The top-level field names of a `@key(fields: …)` selection: `id`, `id sku`, `owner { id } sku`. */
function topLevelNames(fields: string): string[] {
  const names: string[] = [];
  let depth = 0;
  for (const token of fields.match(/[{}]|[_A-Za-z][_0-9A-Za-z]*/g) ?? []) {
    if (token === '{') depth++;
    else if (token === '}') depth--;
    else if (depth === 0) names.push(token);
  }
  return names;
}

function keyFieldSets(type: GraphQLObjectType): string[] {
  // Pothos keeps a type's directives in its extensions; SDL-built types (template entities) in AST.
  const declared = (type.extensions as { directives?: { name: string; args?: { fields?: unknown } }[] })
    .directives;
  const fromExtensions = (declared ?? [])
    .filter((directive) => directive.name === 'key' && typeof directive.args?.fields === 'string')
    .map((directive) => directive.args?.fields as string);
  const nodes: readonly ConstDirectiveNode[] = [
    ...(type.astNode?.directives ?? []),
    ...type.extensionASTNodes.flatMap((node) => node.directives ?? []),
  ];
  const fromAst = nodes
    .filter((directive) => directive.name.value === 'key')
    .flatMap((directive) => {
      const value = directive.arguments?.find((argument) => argument.name.value === 'fields')?.value;
      return value?.kind === Kind.STRING ? [value.value] : [];
    });
  // Pothos also prints its directives into the AST it builds: the same key, once.
  return [...new Set([...fromExtensions, ...fromAst])];
}

/** Entity type name → its keys (a representation must hold all the fields of one of them). */
function entityKeys(schema: GraphQLSchema): ReadonlyMap<string, readonly Key[]> {
  let keys = keysBySchema.get(schema);
  if (keys === undefined) {
    const union = schema.getType('_Entity');
    const map = new Map<string, readonly Key[]>();
    for (const type of isUnionType(union) ? union.getTypes() : []) {
      const fields = type.getFields();
      map.set(
        type.name,
        keyFieldSets(type).map((set) =>
          topLevelNames(set).map((name) => {
            const field = fields[name];
            const named = field === undefined ? undefined : getNamedType(field.type);
            // A leaf's type name (an unknown field: any value); a nested selection: undefined.
            return { name, type: named === undefined ? '' : isLeafType(named) ? named.name : undefined };
          }),
        ),
      );
    }
    keys = map;
    keysBySchema.set(schema, keys);
  }
  return keys;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether a key field's value is one its type accepts as input (a nested key: an object). */
function fits(value: unknown, type: string | undefined): boolean {
  switch (type) {
    // An ID goes out as a string, and a gateway sends back what the subgraph gave it.
    case 'ID':
    case 'String':
      return typeof value === 'string';
    case 'Int':
      return Number.isInteger(value) && Math.abs(value as number) <= 2 ** 31;
    case 'Float':
      return typeof value === 'number' && Number.isFinite(value);
    case 'Boolean':
      return typeof value === 'boolean';
    case undefined:
      return isRecord(value);
    default:
      // Another scalar: present and not null; its resolver parses it.
      return value !== null && value !== undefined;
  }
}

function refused(argument: string, problem: string): GraphQLError {
  return new GraphQLError(`${argument} ${problem}`, {
    extensions: { code: errorCodes.badUserInput, argument },
  });
}

/** A client's text in a message: cut short. */
const quoted = (text: string) => JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);

/** Throws `BAD_USER_INPUT` for the first representation that no resolver here could take. */
export function checkRepresentations(schema: GraphQLSchema, representations: unknown): void {
  if (!Array.isArray(representations)) return;
  const entities = entityKeys(schema);
  representations.forEach((representation, index) => {
    const at = `representations[${index}]`;
    if (!isRecord(representation)) {
      throw refused(at, 'must be an object with __typename and the key fields of an entity type.');
    }
    const typename = Object.hasOwn(representation, '__typename') ? representation.__typename : undefined;
    if (typeof typename !== 'string') throw refused(`${at}.__typename`, 'must name an entity type.');
    const keys = entities.get(typename);
    if (keys === undefined) {
      throw refused(
        `${at}.__typename`,
        `${quoted(typename)} is not an entity type of this subgraph (${[...entities.keys()].join(', ')}).`,
      );
    }
    const held = (key: Key) =>
      key.every(({ name, type }) => Object.hasOwn(representation, name) && fits(representation[name], type));
    if (keys.length > 0 && !keys.some(held)) {
      const wanted = keys.map((key) =>
        key.map(({ name, type }) => `${name}: ${type ?? 'object'}`).join(', '),
      );
      throw refused(at, `must hold the key of ${typename} (${wanted.join(' or ')}).`);
    }
  });
}

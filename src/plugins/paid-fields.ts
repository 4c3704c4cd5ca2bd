import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  GraphQLIncludeDirective,
  type GraphQLObjectType,
  type GraphQLSchema,
  GraphQLSkipDirective,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import type { CompletionRequestInput } from '../completions/model.js';
import { errorCodes } from '../error-codes.js';
import { entityCallKey } from '../schema/templates/entities.js';
import type { EntityTemplates } from '../schema/templates/entity-schema.js';
import {
  entityTemplatesOf,
  promptNamespaceType,
  templateCallKey,
  templatesOf,
} from '../schema/templates/schema.js';
import type { PromptTemplate } from '../templates/template.js';
import { checkRepresentations } from './entity-representations.js';

/**
 * Finds every field of an operation that calls the paid upstream, with its coerced input: through
 * aliases, fragment spreads and inline fragments, honouring @skip and @include; template fields
 * under every selection of `Query.prompt` too.
 */

export type PaidField = {
  /** The schema field (`createCompletion`, `completionStream`, or the template's name). */
  name: string;
  /**
   * Where the resolver finds its prepared call: the alias or field name; for a template field, the
   * namespace's and the field's (`prompt.productSummary`).
   */
  responseKey: string;
} & (
  | { input: CompletionRequestInput }
  /** A template field: its template and its coerced arguments, rendered and priced by the plan. */
  | { template: PromptTemplate; args: Record<string, unknown> }
  /** An entity field under `_entities`: its template and the representations, one call for all. */
  | { entity: PromptTemplate; representations: readonly unknown[] }
);

export const paidFieldNames: readonly string[] = ['createCompletion', 'completionStream'];

function isIncluded(
  node: { directives?: readonly unknown[] | undefined },
  variables: Record<string, unknown>,
): boolean {
  const selection = node as FieldNode;
  if (getDirectiveValues(GraphQLSkipDirective, selection, variables)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, selection, variables)?.if !== false;
}

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  templates: ReadonlyMap<string, PromptTemplate> | undefined;
  entities: EntityTemplates | undefined;
  out: Map<string, PaidField>;
}

/**
 * Every included field of a selection set, through inline fragments and fragment spreads, with the
 * type condition it is under (the innermost one; `condition` where none is written).
 */
function eachField(
  selectionSet: SelectionSetNode,
  walk: Walk,
  seen: ReadonlySet<string>,
  visit: (field: FieldNode, condition: string | undefined) => void,
  condition?: string,
): void {
  for (const selection of selectionSet.selections) {
    if (!isIncluded(selection, walk.variables)) continue;
    if (selection.kind === Kind.FIELD) visit(selection, condition);
    else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const inner = selection.typeCondition?.name.value ?? condition;
      eachField(selection.selectionSet, walk, seen, visit, inner);
    } else {
      const fragment = walk.fragments.get(selection.name.value);
      // Validation refuses unknown fragments and cycles; here they only must not loop or slip by.
      if (fragment === undefined) throw new GraphQLError(`Unknown fragment "${selection.name.value}".`);
      if (seen.has(fragment.name.value)) continue;
      const inner = fragment.typeCondition.name.value;
      eachField(fragment.selectionSet, walk, new Set([...seen, fragment.name.value]), visit, inner);
    }
  }
}

/** The entity fields under one `_entities` selection: one batch per entity type and field key. */
function collectEntities(
  selection: FieldNode,
  representations: readonly unknown[],
  entitiesKey: string,
  walk: Walk,
) {
  if (selection.selectionSet === undefined) return;
  eachField(selection.selectionSet, walk, new Set(), (field, condition) => {
    const template =
      condition === undefined ? undefined : walk.entities?.get(condition)?.get(field.name.value);
    if (template === undefined || condition === undefined) return;
    const responseKey = entityCallKey(entitiesKey, condition, field.alias?.value ?? field.name.value);
    if (!walk.out.has(responseKey)) {
      walk.out.set(responseKey, { name: template.name, responseKey, entity: template, representations });
    }
  });
}

/** The template fields under one `prompt` selection; a field of it that is no template is refused. */
function collectTemplates(
  namespace: GraphQLObjectType,
  selection: FieldNode,
  namespaceKey: string,
  walk: Walk,
) {
  if (selection.selectionSet === undefined) return;
  eachField(selection.selectionSet, walk, new Set(), (field) => {
    if (field.name.value === '__typename') return;
    const definition = namespace.getFields()[field.name.value];
    const template = walk.templates?.get(field.name.value);
    if (definition === undefined || template === undefined) {
      throw new GraphQLError(`"${field.name.value}" is not a prompt template of this server.`);
    }
    const responseKey = templateCallKey(namespaceKey, field.alias?.value ?? field.name.value);
    const args = getArgumentValues(definition, field, walk.variables);
    if (!walk.out.has(responseKey))
      walk.out.set(responseKey, { name: template.name, responseKey, template, args });
  });
}

function collect(root: GraphQLObjectType, selectionSet: SelectionSetNode, walk: Walk): void {
  eachField(selectionSet, walk, new Set(), (selection) => {
    const definition = root.getFields()[selection.name.value];
    if (definition === undefined) return;
    const responseKey = selection.alias?.value ?? selection.name.value;
    const type = getNamedType(definition.type);
    if (type.name === promptNamespaceType && isObjectType(type)) {
      collectTemplates(type, selection, responseKey, walk);
      return;
    }
    if (definition.name === '_entities') {
      // Every representation is checked, whatever the selection asks of it: they all reach a resolver.
      const { representations } = getArgumentValues(definition, selection, walk.variables);
      checkRepresentations(walk.schema, representations);
      if (walk.entities !== undefined && Array.isArray(representations))
        collectEntities(selection, representations, responseKey, walk);
      return;
    }
    if (!paidFieldNames.includes(definition.name)) return;
    // Selections under one response key are merged by execution (validation made their arguments
    // equal): one call. Coercing each one still refuses any that does not coerce.
    const args = getArgumentValues(definition, selection, walk.variables);
    if (!walk.out.has(responseKey)) {
      walk.out.set(responseKey, {
        name: definition.name,
        responseKey,
        input: args.input as CompletionRequestInput,
      });
    }
  });
}

export type PaidFieldsResult = { fields: PaidField[] } | { errors: readonly GraphQLError[] };

/**
 * The paid fields of the operation that would run, or the errors that keep it from being known
 * (no such operation, variables or arguments that do not coerce). Anything this cannot account
 * for refuses the whole operation: a paid field that was not found here is never run unpriced.
 */
export function findPaidFields(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
): PaidFieldsResult {
  const operation = getOperationAST(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) {
    return {
      errors: [
        new GraphQLError(
          operationName
            ? `Unknown operation named "${operationName}".`
            : 'Must provide operation name if query contains multiple operations.',
          { extensions: { code: errorCodes.badRequest } },
        ),
      ],
    };
  }
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {}, {
    maxErrors: 10,
  });
  if (coerced.errors !== undefined) return { errors: coerced.errors };
  const fragments = new Map(
    document.definitions.flatMap((d) =>
      d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [],
    ),
  );
  const fields = new Map<string, PaidField>();
  try {
    collect(root, operation.selectionSet, {
      schema,
      fragments,
      variables: coerced.coerced,
      templates: templatesOf(schema),
      entities: entityTemplatesOf(schema),
      out: fields,
    });
  } catch (error) {
    return {
      errors: [
        error instanceof GraphQLError
          ? error
          : new GraphQLError("The operation's arguments could not be read."),
      ],
    };
  }
  return { fields: [...fields.values()] };
}

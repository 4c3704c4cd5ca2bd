import { readFileSync } from 'node:fs';
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { printSortedSubgraphSchema, schemaFile } from '../../src/schema/print.js';

const ownTypes = Object.values(schema.getTypeMap()).filter(
  (type) =>
    !type.name.startsWith('__') &&
    !type.name.startsWith('_') &&
    !(isScalarType(type) && isSpecifiedScalarType(type)) &&
    type.name !== 'link__Import',
);

describe('the committed SDL', () => {
  it('schema/schema.graphql is what the code prints (run `npm run schema:print` after a schema change)', () => {
    expect(readFileSync(schemaFile, 'utf8')).toBe(printSortedSubgraphSchema());
  });

  it('is sorted: types and fields in code-point order', () => {
    const sdl = printSortedSubgraphSchema();
    const typeNames = [...sdl.matchAll(/^(?:type|input|enum|scalar|interface|union) (\w+)/gm)].map(
      (m) => m[1] ?? '',
    );
    expect(typeNames).toEqual([...typeNames].sort());
  });

  it('carries the federation @link and the Model @key', () => {
    const sdl = printSortedSubgraphSchema();
    expect(sdl).toMatch(/@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+"/);
    expect(sdl).toMatch(/type Model @key\(fields: "id"\)/);
  });
});

describe('conventions', () => {
  it('has no snake_case name anywhere: types, fields, arguments, enum values aside', () => {
    const names: string[] = [];
    for (const type of ownTypes) {
      names.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          names.push(field.name);
          if ('args' in field) names.push(...field.args.map((arg: { name: string }) => arg.name));
        }
      }
    }
    // `_service` and `_entities` are named by the Federation spec.
    expect(names.filter((name) => name.includes('_') && !['_service', '_entities'].includes(name))).toEqual(
      [],
    );
  });

  it('describes every type, field, argument and enum value', () => {
    const missing: string[] = [];
    for (const type of ownTypes) {
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          if ('args' in field) {
            for (const arg of field.args)
              if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues())
          if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
    }
    // Federation's own root fields (_service, _entities) are described by the spec, not by us.
    expect(missing.filter((name) => !/\._(service|entities)/.test(name))).toEqual([]);
  });

  it('the prompt input is @oneOf and the finish reason an enum with OTHER', () => {
    const prompt = schema.getType('PromptInput');
    expect(isInputObjectType(prompt) && prompt.isOneOf).toBe(true);
    const finish = schema.getType('FinishReason');
    expect(
      isEnumType(finish) &&
        finish
          .getValues()
          .map((v) => v.name)
          .sort(),
    ).toEqual(['CONTENT_FILTER', 'LENGTH', 'OTHER', 'STOP']);
  });

  it('usage is nullable and choices are not', () => {
    const response = schema.getType('CreateCompletionResponse');
    if (!isObjectType(response)) throw new Error('CreateCompletionResponse is not an object type');
    expect(String(response.getFields().usage?.type)).toBe('CompletionUsage');
    expect(String(response.getFields().choices?.type)).toBe('[CompletionChoice!]!');
    expect(String(response.getFields().createdAt?.type)).toBe('DateTime!');
  });
});

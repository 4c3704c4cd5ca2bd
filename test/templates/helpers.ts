import { readFileSync } from 'node:fs';
import { parsePromptsFile } from '../../src/templates/config-file.js';
import type { PromptTemplate } from '../../src/templates/template.js';

/** The shipped example's templates: the tests serve exactly what an operator would start with. */
export function exampleTemplates(): PromptTemplate[] {
  return parsePromptsFile(readFileSync(new URL('../../examples/prompts.yaml', import.meta.url), 'utf8'));
}

export const summaryQuery = `query Summary($name: String!, $description: String, $overrides: TemplateOverrides) {
  prompt { productSummary(name: $name, description: $description, overrides: $overrides) {
    text texts finishReason model cached completionId usage { promptTokens completionTokens totalTokens }
  } }
}`;

/** The prompt productSummary renders for these values (the example's text, as written there). */
export const summaryPrompt = (name: string, description = '') =>
  `Summarize for a shop listing, in two sentences.\nName: ${name}\nDescription: ${description}\nSummary:`;

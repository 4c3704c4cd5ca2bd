/**
 * The failures of prompt templates and of the raw-prompt switch; `src/errors.ts` gives them their
 * stable codes (and the REST face its OpenAI-style envelope).
 */

/** A template's argument breaks its declared limits: `BAD_USER_INPUT`, before any paid call. */
export class TemplateVariableError extends Error {
  constructor(
    /** The GraphQL argument at fault (the variable's name, or `overrides.<field>`). */
    readonly argument: string,
    readonly problem: string,
  ) {
    super(`${argument} ${problem}`);
    this.name = 'TemplateVariableError';
  }
}

/** ALLOW_RAW_PROMPTS=false: only the operator's templates may reach the upstream. */
export class RawPromptForbiddenError extends Error {
  constructor() {
    super(
      'This server runs only its prompt templates (ALLOW_RAW_PROMPTS=false): raw prompts are refused; use a field of Query.prompt.',
    );
    this.name = 'RawPromptForbiddenError';
  }
}

/** PROMPTS_FILE cannot be used; the message names the line and the field. */
export class PromptsFileError extends Error {}

/** Operations the tests send, written once so each test reads as what it checks. */

export const completionFields = /* GraphQL */ `
  id
  object
  created
  createdAt
  model
  systemFingerprint
  choices {
    text
    index
    finishReason
    finishReasonRaw
    logprobs { tokens tokenLogprobs textOffset topLogprobs { token logprob } }
  }
  usage {
    promptTokens
    completionTokens
    totalTokens
    promptTokensDetails { cachedTokens audioTokens }
    completionTokensDetails { reasoningTokens }
  }
`;

export const createCompletion = /* GraphQL */ `
  mutation Create($input: CreateCompletionInput!) {
    createCompletion(input: $input) { ${completionFields} }
  }
`;

export const completionStream = /* GraphQL */ `
  subscription Stream($input: CreateCompletionInput!) {
    completionStream(input: $input) { ${completionFields} }
  }
`;

import './scalars.js';
import './inputs.js';
import './completion.js';
import './completion-stream.js';
import './model.js';
import './stored-completion.js';
import './usage.js';
import { builder } from './builder.js';

/**
 * The federated subgraph schema; `@link` pins the Federation version gateways compose against
 * (2.9 for `@cost` and `@listSize`, which gateways' demand control reads).
 */
export const federationLinkUrl = 'https://specs.apollo.dev/federation/v2.9';

export const schema = builder.toSubGraphSchema({
  linkUrl: federationLinkUrl,
  federationDirectives: ['@key', '@shareable', '@inaccessible', '@tag', '@cost', '@listSize'],
});

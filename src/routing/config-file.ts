import { type Problem, parseConfigFile } from '../config-file.js';
import { type Env, readFileVariable } from '../config-values.js';
import { type UpstreamsFileInput, upstreamsFileSchema } from './config-schema.js';

/**
 * UPSTREAMS_FILE: deployments and routes, in YAML or JSON (JSON is YAML), checked once at start.
 * Every problem names its line and field, so a typo stops the start with a message that points at
 * it instead of surfacing as a strange routing decision under load.
 */

export class UpstreamsFileError extends Error {}

/** The local engine's one model (`LOCAL_MODEL_ID`); spelt here so reading the file loads no engine. */
export const localEngineModel = 'local-ngram-moby-dick';

export type Balance = 'weighted' | 'least-outstanding';

export interface DeploymentSpec {
  name: string;
  kind: 'openai' | 'local';
  /** Set for `openai` deployments. */
  baseUrl?: string;
  /** The key's value, read from the variable named by `apiKeyEnv`; never written in the file. */
  apiKey?: string;
  /** Public model name → the name this deployment knows it by. */
  models: ReadonlyMap<string, string>;
  weight: number;
  rpm?: number;
  tpm?: number;
  timeoutMs?: number;
  maxRetries?: number;
  maxConnections?: number;
  /** Overrides of the circuit breaker's defaults for this deployment. */
  breaker?: { windowSize?: number; minimumCalls?: number; failureRatio?: number; coolDownMs?: number };
}

export interface RouteSpec {
  /** The public model name clients ask for. */
  model: string;
  balance: Balance;
  /** Tried in order; within a group calls are shared by `balance`. */
  groups: string[][];
}

export interface UpstreamsSpec {
  deployments: DeploymentSpec[];
  routes: RouteSpec[];
}

/** UPSTREAMS_FILE, when set: `env` is the configuration's environment (config.ts reads it). */
export function readUpstreamsFile(env: Env): UpstreamsSpec | undefined {
  return readFileVariable(env, 'UPSTREAMS_FILE', (text) => parseUpstreamsFile(text, env), UpstreamsFileError);
}

/** Parses and checks the file; `env` holds the variables the deployments' `apiKeyEnv` name. */
export function parseUpstreamsFile(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): UpstreamsSpec {
  const { data, problem } = parseConfigFile(
    text,
    upstreamsFileSchema,
    (message) => new UpstreamsFileError(message),
    (issue) =>
      `${issue.message}${issue.code === 'unrecognized_keys' && issue.keys.includes('apiKey') ? hintApiKey : ''}`,
  );
  return resolve(data, env, problem);
}

const hintApiKey =
  '; a key never goes in the file: put it in an environment variable and name that in apiKeyEnv';

function resolve(
  file: UpstreamsFileInput,
  env: Readonly<Record<string, string | undefined>>,
  problem: Problem,
): UpstreamsSpec {
  const byName = new Map<string, DeploymentSpec>();
  const deployments = file.deployments.map((input, index): DeploymentSpec => {
    const at = (...rest: PropertyKey[]) => ['deployments', index, ...rest];
    if (byName.has(input.name)) throw problem(at('name'), `the name "${input.name}" is used twice`);
    const models = new Map<string, string>(
      Array.isArray(input.models)
        ? input.models.map((model) => [model, model])
        : Object.entries(input.models ?? {}),
    );
    const { name, kind, weight, rpm, tpm, timeoutMs, maxRetries, maxConnections, breaker } = input;
    const spec: DeploymentSpec = {
      name,
      kind,
      models,
      weight,
      ...(rpm === undefined ? {} : { rpm }),
      ...(tpm === undefined ? {} : { tpm }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(maxRetries === undefined ? {} : { maxRetries }),
      ...(maxConnections === undefined ? {} : { maxConnections }),
      ...(breaker === undefined ? {} : { breaker }),
    };
    if (kind === 'local') {
      if (input.baseUrl !== undefined) throw problem(at('baseUrl'), 'a local deployment has no base URL');
      if (input.apiKeyEnv !== undefined) throw problem(at('apiKeyEnv'), 'a local deployment has no key');
      if (models.size === 0) models.set(localEngineModel, localEngineModel);
      for (const [publicName, served] of models) {
        if (served !== localEngineModel) {
          throw problem(at('models', publicName), `the local engine serves only "${localEngineModel}"`);
        }
      }
    } else {
      if (input.baseUrl === undefined) throw problem(at(), 'an openai deployment needs baseUrl');
      if (models.size === 0) throw problem(at(), 'an openai deployment needs models');
      const url = new URL(input.baseUrl);
      // Keys are never written in this file: credentials in the URL would be, and would be logged.
      if (url.username !== '' || url.password !== '') {
        throw problem(
          at('baseUrl'),
          'must not hold credentials (user:password@); name the key with apiKeyEnv',
        );
      }
      spec.baseUrl = input.baseUrl.replace(/\/+$/, '');
      if (input.apiKeyEnv !== undefined) {
        const key = env[input.apiKeyEnv]?.trim();
        if (!key) throw problem(at('apiKeyEnv'), `the environment variable ${input.apiKeyEnv} is not set`);
        spec.apiKey = key;
      } else if (new URL(spec.baseUrl).hostname === 'api.openai.com') {
        throw problem(at(), 'a deployment at api.openai.com needs apiKeyEnv');
      }
    }
    byName.set(name, spec);
    return spec;
  });

  const routes = new Map<string, RouteSpec>();
  for (const [model, input] of Object.entries(file.routes)) {
    const groups = Array.isArray(input) ? input : input.groups;
    const balance = (Array.isArray(input) ? undefined : input.balance) ?? file.balance;
    const seen = new Set<string>();
    groups.forEach((group, g) => {
      group.forEach((deploymentName, d) => {
        const at = ['routes', model, ...(Array.isArray(input) ? [] : ['groups']), g, d];
        const deployment = byName.get(deploymentName);
        if (deployment === undefined) throw problem(at, `no deployment is named "${deploymentName}"`);
        if (!deployment.models.has(model)) {
          throw problem(
            at,
            `deployment "${deploymentName}" does not serve "${model}" (add it to its models)`,
          );
        }
        if (seen.has(deploymentName)) throw problem(at, `"${deploymentName}" appears twice in this route`);
        seen.add(deploymentName);
      });
    });
    routes.set(model, { model, balance, groups });
  }
  // A model some deployments serve but no route names: one group of them all, in file order.
  for (const deployment of deployments) {
    for (const model of deployment.models.keys()) {
      if (routes.has(model)) continue;
      const servers = deployments.filter((d) => d.models.has(model)).map((d) => d.name);
      routes.set(model, { model, balance: file.balance, groups: [servers] });
    }
  }
  return { deployments, routes: [...routes.values()] };
}

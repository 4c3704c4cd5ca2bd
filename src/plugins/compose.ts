import type { Plugin } from 'graphql-yoga';
import { extended } from '../runtime/objects.js';

type OnExecute = NonNullable<Plugin['onExecute']>;
type ExecutePayload = Parameters<OnExecute>[0];
type ExecuteHookResult = Exclude<Awaited<ReturnType<OnExecute>>, void>;
type OnExecuteDone = NonNullable<ExecuteHookResult['onExecuteDone']>;
type DonePayload = Parameters<OnExecuteDone>[0];
type DoneHookResult = Exclude<Awaited<ReturnType<OnExecuteDone>>, void>;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

function synchronous<T>(value: T | PromiseLike<T>, hook: string): T {
  if (isThenable(value)) throw new Error(`a composed ${hook} hook must be synchronous`);
  return value;
}

/**
 * What each composed hook is handed: the operation's payload, whose `executeFn` follows the hooks'
 * `setExecuteFn`, and which remembers a hook stopping the execution. A class, so that every payload
 * has one shape: an object literal with a getter is turned into a dictionary, and a spread of the
 * outer payload would give each one a hidden class of its own (see src/runtime/objects.ts).
 */
class InnerPayload implements ExecutePayload {
  readonly args: ExecutePayload['args'];
  readonly context: ExecutePayload['context'];
  readonly extendContext: ExecutePayload['extendContext'];
  stopped = false;
  #executeFn: ExecutePayload['executeFn'];

  constructor(outer: ExecutePayload) {
    this.args = outer.args;
    this.context = outer.context;
    this.extendContext = outer.extendContext;
    this.#executeFn = outer.executeFn;
    // Own functions, not methods: a hook may take them out of the payload.
    this.setExecuteFn = (fn) => {
      this.#executeFn = fn;
      outer.setExecuteFn(fn);
    };
    this.setResultAndStopExecution = (result) => {
      this.stopped = true;
      outer.setResultAndStopExecution(result);
    };
  }

  get executeFn(): ExecutePayload['executeFn'] {
    return this.#executeFn;
  }

  readonly setExecuteFn: ExecutePayload['setExecuteFn'];
  readonly setResultAndStopExecution: ExecutePayload['setResultAndStopExecution'];
}

/**
 * The `onExecute` hooks of several plugins, run by envelop as one: in order, stopping at the first
 * that sets a result, their `onExecuteDone` hooks in the same order, each seeing the result the one
 * before it set. envelop pays for each hook it runs (closures and promise helpers: about 4 KB of
 * garbage per hook per operation: with our six, a fifth of all it allocated), and ours
 * are synchronous and next to each other. The plugins keep their other hooks where they were.
 */
export function composeExecuteHooks(...plugins: Plugin[]): Plugin[] {
  const hooks = plugins.flatMap((plugin) => (plugin.onExecute === undefined ? [] : [plugin.onExecute]));
  const composite: Plugin = {
    onExecute(payload: ExecutePayload) {
      const inner = new InnerPayload(payload);
      const dones: OnExecuteDone[] = [];
      for (const hook of hooks) {
        const done = synchronous(hook(inner), 'onExecute');
        if (done?.onExecuteDone !== undefined) dones.push(done.onExecuteDone);
        if (inner.stopped) break;
      }
      if (dones.length === 0) return;
      return {
        onExecuteDone(donePayload: DonePayload) {
          // One payload for every hook: a hook reads it when called, and sees what the one before set.
          const shared: DonePayload = {
            args: donePayload.args,
            result: donePayload.result,
            setResult(next) {
              shared.result = next;
              donePayload.setResult(next);
            },
          };
          let streams: DoneHookResult[] | undefined;
          for (const done of dones) {
            const stream = synchronous(done(shared), 'onExecuteDone');
            if (!stream) continue;
            streams ??= [];
            streams.push(stream);
          }
          if (streams === undefined) return;
          const running = streams;
          return {
            onNext: async (next) => {
              let value = next.result;
              for (const stream of running) {
                await stream.onNext?.({
                  args: next.args,
                  result: value,
                  setResult(changed) {
                    value = changed;
                    next.setResult(changed);
                  },
                });
              }
            },
            onEnd: () => {
              for (const stream of running) stream.onEnd?.();
            },
          };
        },
      };
    },
  };
  return [composite, ...plugins.map((plugin) => extended(plugin, { onExecute: undefined }))];
}

import { errorSlots, renderControls } from './controls.js';
import { millisecondsText } from './format.js';
import { type GraphQLErrorShape, type GraphQLPayload, graphqlUrl, query, subscribe } from './graphql.js';
import { RunView, type StreamChunk } from './output.js';
import { buildInput, type CompletionInput } from './params.js';
import { AlternativesPopover } from './popover.js';
import { controlForError, curlCommand, type OperationBody, operationBody } from './request.js';

/** The playground page: the form, the model list, runs (A, and B when comparing) and Stop. */

const keyStorage = 'completions-playground.client-key';

function byId<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`The page has no #${id}`);
  return found as T;
}

const form = byId<HTMLFormElement>('run-form');
const modelSelect = byId<HTMLSelectElement>('model');
const modelB = byId<HTMLSelectElement>('model-b');
const temperatureB = byId<HTMLInputElement>('temperature-b');
const prompt = byId<HTMLTextAreaElement>('prompt');
const runButton = byId<HTMLButtonElement>('run');
const stopButton = byId<HTMLButtonElement>('stop');
const compare = byId<HTMLInputElement>('compare');
const compareFields = byId<HTMLElement>('compare-fields');
const keyInput = byId<HTMLInputElement>('client-key');
const status = byId<HTMLElement>('status');
const runError = byId<HTMLElement>('run-error');
const runs = byId<HTMLElement>('runs');
const requests = byId<HTMLElement>('requests');
const showNumbers = byId<HTMLInputElement>('show-numbers');

const controls = renderControls(byId('params'), byId('params-more'));
const errors = errorSlots(form);
const popover = new AlternativesPopover();
popover.attach(runs);

function authHeaders(): Record<string, string> {
  const key = keyInput.value.trim();
  return key === '' ? {} : { authorization: `Bearer ${key}` };
}

keyInput.value = sessionStorage.getItem(keyStorage) ?? '';
keyInput.addEventListener('change', () => {
  const key = keyInput.value.trim();
  if (key === '') sessionStorage.removeItem(keyStorage);
  else sessionStorage.setItem(keyStorage, key);
  void loadModels();
});
byId('forget-key').addEventListener('click', () => {
  keyInput.value = '';
  sessionStorage.removeItem(keyStorage);
  void loadModels();
});

compare.addEventListener('change', () => {
  compareFields.hidden = !compare.checked;
});
showNumbers.addEventListener('change', () => runs.classList.toggle('show-numbers', showNumbers.checked));
prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit();
  }
});

function errorText(list: GraphQLErrorShape[] | undefined): string {
  return (list ?? []).map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; ');
}

async function loadModels(): Promise<void> {
  errors.clear();
  const previous = modelSelect.value;
  let payload: GraphQLPayload<{ models: { id: string; ownedBy: string }[] }>;
  try {
    payload = await query('query PlaygroundModels { models { id ownedBy } }', {}, authHeaders());
  } catch (error) {
    errors.show('model', `Could not load the models: ${error instanceof Error ? error.message : error}`);
    return;
  }
  const models = payload.data?.models ?? [];
  if (payload.errors?.length) {
    const hint = payload.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')
      ? ' Enter a client key below.'
      : '';
    errors.show('model', `${errorText(payload.errors)}${hint}`);
  }
  const options = models.map((model) => new Option(`${model.id} (${model.ownedBy})`, model.id));
  modelSelect.replaceChildren(...(options.length ? options : [new Option('No models', '')]));
  modelB.replaceChildren(
    new Option('Same as A', ''),
    ...models.map((model) => new Option(model.id, model.id)),
  );
  if (models.some((model) => model.id === previous)) modelSelect.value = previous;
}

interface Run {
  label: string;
  input: CompletionInput;
  /** Control ids that B overrides, so that its errors are shown beside them. */
  overrides: Record<string, string>;
}

function plan(): Run[] | undefined {
  errors.clear();
  const { input, problems } = buildInput(modelSelect.value, prompt.value, controls.values());
  for (const problem of problems) errors.show(controlId(problem.name), problem.message);
  if (problems.length) return undefined;
  const list: Run[] = [{ label: compare.checked ? 'A' : 'Run', input, overrides: {} }];
  if (compare.checked) {
    const b: CompletionInput = { ...input };
    const overrides: Record<string, string> = {};
    if (temperatureB.value.trim() !== '') {
      const value = Number(temperatureB.value);
      if (!Number.isFinite(value)) {
        errors.show('temperature-b', 'Temperature (B) must be a number.');
        return undefined;
      }
      b.temperature = value;
      overrides.temperature = 'temperature-b';
    }
    if (modelB.value !== '') {
      b.model = modelB.value;
      overrides.model = 'model-b';
    }
    list.push({ label: 'B', input: b, overrides });
  }
  return list;
}

function controlId(name: string): string {
  return name === 'model' || name === 'prompt' ? name : `param-${name}`;
}

function describe(run: Run): string {
  const { input } = run;
  const parts = [input.model, `temperature ${input.temperature ?? 'default'}`];
  if (input.topP !== undefined) parts.push(`top P ${input.topP}`);
  return `${run.label} · ${parts.join(' · ')}`;
}

function showRequest(run: Run, body: OperationBody): void {
  const block = document.createElement('div');
  block.className = 'request-block';
  const title = document.createElement('h3');
  title.textContent = run.label === 'Run' ? 'GraphQL operation' : `GraphQL operation (${run.label})`;
  block.append(title);
  if (run.label === 'B') {
    const same = document.createElement('p');
    same.className = 'hint';
    same.textContent = 'The same operation as A; only the variables differ.';
    block.append(same);
  }
  const withKey = keyInput.value.trim() !== '';
  const texts = [
    ...(run.label === 'B' ? [] : [{ name: 'operation', label: 'operation', text: body.query }]),
    { name: 'variables', label: 'variables', text: JSON.stringify(body.variables, null, 2) },
    { name: 'curl', label: 'curl', text: curlCommand(graphqlUrl, body, withKey) },
  ];
  for (const { name, label, text } of texts) {
    const pre = document.createElement('pre');
    pre.dataset.copy = `${name}-${run.label}`;
    pre.tabIndex = 0;
    pre.setAttribute('aria-label', `${label} of ${run.label}`);
    pre.textContent = text;
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.className = 'small';
    copy.textContent = `Copy ${label}`;
    copy.addEventListener('click', () => {
      void navigator.clipboard?.writeText(text).then(
        () => setStatus(`Copied the ${label}.`),
        () => setStatus(`The browser did not allow copying; select the ${label} instead.`),
      );
    });
    block.append(copy, pre);
  }
  requests.append(block);
}

function setStatus(text: string): void {
  status.textContent = text;
}

let active: AbortController | undefined;

async function execute(run: Run, signal: AbortSignal, n: number): Promise<string> {
  const started = performance.now();
  const view = new RunView(runs, describe(run), started, {
    promptLength: run.input.echo === true ? prompt.value.length : 0,
    n,
  });
  const body = operationBody(run.input);
  showRequest(run, body);
  let failed = false;
  try {
    const outcome = await subscribe(body, authHeaders(), signal, {
      onOpen: (requestId) => view.opened(requestId),
      onNext: (payload) => {
        if (payload.errors?.length) {
          failed = true;
          const unplaced = payload.errors.filter((error) => !placeError(error, run));
          view.showErrors(payload.errors);
          if (unplaced.length) runError.textContent = `${run.label}: ${errorText(unplaced)}`;
        }
        const chunk = (payload.data as { completionStream?: StreamChunk } | null | undefined)
          ?.completionStream;
        if (chunk) view.add(chunk, performance.now());
      },
    });
    view.finish(failed ? 'failed' : outcome, performance.now());
    return `${run.label}: ${failed ? 'failed' : outcome === 'stopped' ? 'stopped' : view.summary()}`;
  } catch (error) {
    view.showErrors([{ message: error instanceof Error ? error.message : String(error) }]);
    view.finish('failed', performance.now());
    return `${run.label}: failed`;
  }
}

/** Beside its control when the error names one; true when it was placed there. */
function placeError(error: GraphQLErrorShape, run: Run): boolean {
  const name = controlForError(error);
  if (name === undefined) return false;
  return errors.show(run.overrides[name] ?? controlId(name), error.message);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (active) return;
  runError.textContent = '';
  const planned = plan();
  if (planned === undefined) {
    setStatus('Not sent: a field needs attention.');
    return;
  }
  runs.replaceChildren();
  requests.replaceChildren();
  popover.hide();
  const controller = new AbortController();
  active = controller;
  runButton.disabled = true;
  stopButton.disabled = false;
  setStatus('Running…');
  const started = performance.now();
  const n = Number(controls.values().n || 1) || 1;
  void Promise.all(planned.map((run) => execute(run, controller.signal, Math.min(n, 16)))).then(
    (summaries) => {
      active = undefined;
      const hadFocus = document.activeElement === stopButton;
      runButton.disabled = false;
      stopButton.disabled = true;
      // A disabled button drops the focus to the page; give it to Run for the next try.
      if (hadFocus) runButton.focus();
      const ending = controller.signal.aborted
        ? 'Stopped. '
        : summaries.some((summary) => summary.endsWith('failed'))
          ? 'Failed. '
          : 'Done. ';
      setStatus(`${ending}${summaries.join(', ')} in ${millisecondsText(performance.now() - started)}.`);
      runs.dataset.done = String(Number(runs.dataset.done ?? 0) + 1);
    },
  );
});

stopButton.addEventListener('click', () => {
  active?.abort();
  setStatus('Stopping…');
});

void loadModels();

import { type FormValues, type ParamSpec, paramSpecs } from './params.js';

/**
 * The form's parameter controls, made from the parameter table so that labels, ranges and hints
 * are written once. Every control has a label, its hint and its error as descriptions, and an
 * error slot beside it where the server's message goes.
 */

export type ControlName = string;

export interface ErrorSlots {
  show(name: ControlName, message: string): boolean;
  clear(): void;
}

function field(id: string, label: string, hint: string | undefined): HTMLElement {
  const wrapper = document.createElement('div');
  wrapper.className = 'field';
  wrapper.dataset.field = id;
  const labelEl = document.createElement('label');
  labelEl.htmlFor = id;
  labelEl.textContent = label;
  wrapper.append(labelEl);
  if (hint !== undefined) {
    const hintEl = document.createElement('p');
    hintEl.className = 'hint';
    hintEl.id = `${id}-hint`;
    hintEl.textContent = hint;
    wrapper.append(hintEl);
  }
  const error = document.createElement('p');
  error.className = 'field-error';
  error.id = `${id}-error`;
  error.hidden = true;
  wrapper.append(error);
  return wrapper;
}

/** Labels the input with its hint and error, and puts it right under the label. */
function place(wrapper: HTMLElement, input: HTMLElement, id: string, hasHint: boolean): void {
  input.id = id;
  input.setAttribute('aria-describedby', `${hasHint ? `${id}-hint ` : ''}${id}-error`);
  wrapper.querySelector('label')?.after(input);
}

function numberControl(spec: Extract<ParamSpec, { kind: 'number' }>, id: string, wrapper: HTMLElement) {
  const input = document.createElement('input');
  input.type = 'number';
  input.name = spec.name;
  input.step = String(spec.step);
  input.min = String(spec.min);
  if (spec.max !== undefined) input.max = String(spec.max);
  input.value = spec.initial;
  input.inputMode = spec.integer ? 'numeric' : 'decimal';
  if (spec.slider === undefined) {
    place(wrapper, input, id, true);
    return;
  }
  const row = document.createElement('div');
  row.className = 'slider-row';
  const slider = document.createElement('input');
  slider.type = 'range';
  slider.min = String(spec.min);
  slider.max = String(spec.max ?? spec.min + 1);
  slider.step = String(spec.step);
  slider.setAttribute('aria-label', `${spec.label} slider`);
  slider.setAttribute('aria-describedby', `${id}-hint`);
  const resting = String(spec.slider.resting);
  const sync = () => {
    slider.value = input.value.trim() === '' ? resting : input.value;
  };
  sync();
  input.addEventListener('input', sync);
  slider.addEventListener('input', () => {
    input.value = slider.value;
  });
  place(wrapper, input, id, true);
  input.replaceWith(row);
  row.append(input, slider);
}

export function renderControls(container: HTMLElement, more: HTMLElement): { values(): FormValues } {
  const inputs = new Map<string, HTMLInputElement | HTMLTextAreaElement>();
  for (const spec of paramSpecs) {
    const id = `param-${spec.name}`;
    const wrapper = field(id, spec.label, spec.hint);
    wrapper.classList.add(`kind-${spec.kind}`);
    if (spec.kind === 'number') {
      numberControl(spec, id, wrapper);
    } else if (spec.kind === 'boolean') {
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.name = spec.name;
      input.checked = spec.initial;
      place(wrapper, input, id, true);
      // A checkbox reads best with its label after it.
      wrapper.querySelector('label')?.before(input);
    } else if (spec.kind === 'lines') {
      const input = document.createElement('textarea');
      input.name = spec.name;
      input.rows = 2;
      input.value = spec.initial;
      place(wrapper, input, id, true);
    } else {
      const input = document.createElement('input');
      input.type = 'text';
      input.name = spec.name;
      input.value = spec.initial;
      place(wrapper, input, id, true);
    }
    const input = wrapper.querySelector<HTMLInputElement | HTMLTextAreaElement>(`#${id}`);
    if (input) inputs.set(spec.name, input);
    (spec.more ? more : container).append(wrapper);
  }
  return {
    values() {
      const values: FormValues = {};
      for (const [name, input] of inputs) {
        values[name as keyof FormValues] =
          input instanceof HTMLInputElement && input.type === 'checkbox' ? input.checked : input.value;
      }
      return values;
    },
  };
}

/**
 * Error slots by control: `param-temperature-error` beside `param-temperature`, and so on. The
 * control is marked invalid and described by the message, so a screen reader reads it on focus.
 */
export function errorSlots(root: HTMLElement): ErrorSlots {
  const shown = new Set<string>();
  return {
    show(id, message) {
      const slot = root.querySelector<HTMLElement>(`#${id}-error`);
      const control = root.querySelector<HTMLElement>(`#${id}`);
      if (slot === null || control === null) return false;
      slot.textContent = message;
      slot.hidden = false;
      // A folded section would hide the message: unfold it.
      const folded = slot.closest('details');
      if (folded) folded.open = true;
      control.setAttribute('aria-invalid', 'true');
      shown.add(id);
      return true;
    },
    clear() {
      for (const id of shown) {
        const slot = root.querySelector<HTMLElement>(`#${id}-error`);
        if (slot) {
          slot.hidden = true;
          slot.textContent = '';
        }
        root.querySelector(`#${id}`)?.removeAttribute('aria-invalid');
      }
      shown.clear();
    },
  };
}

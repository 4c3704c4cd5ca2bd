import { logprobText, percentText, probability, tokenText } from './format.js';
import { type TokenInfo, tokenInfo } from './output.js';

/**
 * The alternatives of one token: shown while a token is hovered or focused, as a small table with
 * a bar (<meter>), the probability and the log probability of each, the chosen one marked in
 * words as well as in colour. Arrow keys move between a choice's tokens (one tab stop per
 * choice), Escape hides the table.
 */
export class AlternativesPopover {
  readonly el: HTMLElement;
  private current: HTMLElement | undefined;

  constructor() {
    this.el = document.createElement('div');
    this.el.id = 'token-popover';
    this.el.className = 'popover';
    this.el.setAttribute('role', 'tooltip');
    this.el.hidden = true;
    document.body.append(this.el);
  }

  /** Hover, focus and keys for every token inside `area`, present and future. */
  attach(area: HTMLElement): void {
    area.addEventListener('mouseover', (event) => {
      const token = tokenAt(event.target);
      if (token) this.show(token);
    });
    area.addEventListener('mouseout', (event) => {
      const token = tokenAt(event.target);
      if (token && token !== document.activeElement) this.hide();
    });
    area.addEventListener('focusin', (event) => {
      const token = tokenAt(event.target);
      if (token) this.show(token);
    });
    area.addEventListener('focusout', () => this.hide());
    area.addEventListener('keydown', (event) => {
      const token = tokenAt(event.target);
      if (token === undefined) return;
      if (event.key === 'Escape') {
        this.hide();
        return;
      }
      if (event.key === 'Enter' || event.key === ' ') {
        // The token is a button: pressing it shows its alternatives again after Escape.
        event.preventDefault();
        this.show(token);
        return;
      }
      const next = neighbour(token, event.key);
      if (next === undefined) return;
      event.preventDefault();
      token.tabIndex = -1;
      next.tabIndex = 0;
      next.focus();
    });
  }

  show(token: HTMLElement): void {
    const info = tokenInfo.get(token);
    if (info === undefined) return;
    this.current = token;
    this.el.replaceChildren(...content(info));
    this.el.hidden = false;
    const box = token.getBoundingClientRect();
    const width = this.el.offsetWidth;
    const left = Math.max(4, Math.min(box.left, document.documentElement.clientWidth - width - 4));
    this.el.style.left = `${left + window.scrollX}px`;
    this.el.style.top = `${box.bottom + window.scrollY + 4}px`;
  }

  hide(): void {
    this.current = undefined;
    this.el.hidden = true;
  }

  get token(): HTMLElement | undefined {
    return this.current;
  }
}

function tokenAt(target: EventTarget | null): HTMLElement | undefined {
  return target instanceof HTMLElement && target.classList.contains('tok') ? target : undefined;
}

function neighbour(token: HTMLElement, key: string): HTMLElement | undefined {
  const tokens = [...(token.parentElement?.querySelectorAll<HTMLElement>('.tok') ?? [])];
  const at = tokens.indexOf(token);
  const index =
    key === 'ArrowRight' || key === 'ArrowDown'
      ? at + 1
      : key === 'ArrowLeft' || key === 'ArrowUp'
        ? at - 1
        : key === 'Home'
          ? 0
          : key === 'End'
            ? tokens.length - 1
            : -1;
  return index >= 0 ? tokens[index] : undefined;
}

function content(info: TokenInfo): HTMLElement[] {
  const head = document.createElement('p');
  head.className = 'popover-head';
  const code = document.createElement('code');
  code.textContent = tokenText(info.token);
  head.append(
    code,
    document.createTextNode(
      info.logprob === null
        ? ' — no probability (the first token of a prompt has no context)'
        : ` — ${percentText(info.logprob)} (log probability ${logprobText(info.logprob)})${info.prompt ? ', prompt' : ''}`,
    ),
  );
  if (info.top === null || info.top.length === 0) return [head];
  const table = document.createElement('table');
  const caption = document.createElement('caption');
  caption.textContent = 'Most likely tokens at this position';
  const header = table.createTHead().insertRow();
  for (const title of ['Token', 'Probability', 'Bar', 'Log prob.']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = title;
    header.append(th);
  }
  const body = table.createTBody();
  const chosenListed = info.top.some((alt) => alt.token === info.token);
  const rows =
    chosenListed || info.logprob === null
      ? info.top
      : [...info.top, { token: info.token, logprob: info.logprob }];
  for (const alt of rows) {
    const row = body.insertRow();
    const chosen = alt.token === info.token;
    if (chosen) row.className = 'chosen';
    const name = document.createElement('th');
    name.scope = 'row';
    const tokenCode = document.createElement('code');
    tokenCode.textContent = tokenText(alt.token);
    name.append(tokenCode);
    if (chosen) name.append(document.createTextNode(' (chosen)'));
    const bar = document.createElement('meter');
    bar.min = 0;
    bar.max = 1;
    bar.value = probability(alt.logprob);
    bar.setAttribute('aria-hidden', 'true');
    const barCell = document.createElement('td');
    barCell.append(bar);
    const pct = document.createElement('td');
    pct.className = 'num';
    pct.textContent = percentText(alt.logprob);
    const lp = document.createElement('td');
    lp.className = 'num';
    lp.textContent = logprobText(alt.logprob);
    row.append(name, pct, barCell, lp);
  }
  table.prepend(caption);
  return [head, table];
}

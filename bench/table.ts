/** The result rows, their markdown table, and `bench/results.md`. */
import { writeFile } from 'node:fs/promises';
import { cpus, platform, release } from 'node:os';

export interface Row {
  section: string;
  metric: string;
  value: number;
  unit: string;
  /** The same metric for the baseline, measured in the same run. */
  baseline?: number;
  /** value / baseline, when that ratio means something. */
  ratio?: number;
  target?: string;
  /** undefined: no target. */
  pass?: boolean;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function renderTable(rows: readonly Row[]): string {
  const lines = [
    '| section | metric | value | baseline | ratio | target | pass |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const row of rows) {
    const unit = row.unit === '' ? '' : ` ${row.unit}`;
    const cells = [
      row.section,
      row.metric,
      `${formatNumber(row.value)}${unit}`,
      row.baseline === undefined ? '–' : `${formatNumber(row.baseline)}${unit}`,
      row.ratio === undefined ? '–' : `${row.ratio.toFixed(2)}×`,
      row.target ?? '–',
      row.pass === undefined ? '–' : row.pass ? 'pass' : '**fail**',
    ];
    lines.push(`| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

export async function writeResults(path: URL, table: string, seconds: number): Promise<void> {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const header = [
    '# Benchmark results',
    '',
    `- date: ${new Date().toISOString()}`,
    `- node: ${process.version}`,
    `- machine: ${platform()} ${release()}, ${cpus().length} × ${cpu}`,
    '- command: `npm run bench`',
    `- duration: ${Math.round(seconds)} s`,
    '',
  ].join('\n');
  await writeFile(path, `${header}\n${table}`);
}

/** What a benchmark prints: one table, notes, then one `ratio NAME: X.XX` line per ratio. */

export interface Table {
  columns: string[];
  rows: string[][];
}

export interface Ratio {
  /** Dotted, no spaces: `coldstart.wall`. */
  name: string;
  value: number;
  /** What is divided by what, printed in the notes. */
  meaning: string;
}

export interface BenchmarkReport {
  title: string;
  table: Table;
  notes: string[];
  ratios: Ratio[];
}

/**
 * Renders a report as plain text: a Markdown table (so it pastes into docs), notes, ratio lines last.
 * @example
 * formatReport({ title: 'x', table: { columns: ['a'], rows: [['1']] }, notes: [], ratios: [] });
 */
export function formatReport(report: BenchmarkReport): string {
  const lines = [`# ${report.title}`, '', ...formatTable(report.table), ''];
  const notes = [...report.notes, ...report.ratios.map((ratio) => `${ratio.name} = ${ratio.meaning}`)];
  if (notes.length > 0) lines.push(...notes, '');
  lines.push(...report.ratios.map((ratio) => `ratio ${ratio.name}: ${ratio.value.toFixed(2)}`));
  return `${lines.join('\n')}\n`;
}

function formatTable(table: Table): string[] {
  const widths = table.columns.map((column, index) =>
    Math.max(column.length, ...table.rows.map((row) => (row[index] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `| ${widths.map((width, index) => (cells[index] ?? '').padEnd(width)).join(' | ')} |`;
  return [line(table.columns), line(widths.map((width) => '-'.repeat(width))), ...table.rows.map(line)];
}

/** Milliseconds with one decimal, the precision a noisy shared machine supports. */
export function ms(value: number): string {
  return value.toFixed(1);
}

/** Bytes as MiB with two decimals. */
export function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(2);
}

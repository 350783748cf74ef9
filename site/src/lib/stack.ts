// Column labels for a table that stacks on narrow screens (class "stack" in site.css): each body
// cell's ::before shows its column's label, read from a custom property on the table (--c2 … --c8),
// so the labels cost one attribute per table rather than one per cell (a CVE table has hundreds of
// rows). The first column names the row and gets no label. Labels are the site's own UI strings.
export function stackLabels(labels: readonly string[]): string {
  return labels
    .slice(1)
    .map((l, i) => `--c${i + 2}: ${JSON.stringify(l)}`)
    .join('; ');
}

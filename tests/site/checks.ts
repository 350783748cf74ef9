// Measurements the browser suite asserts on: page geometry (horizontal overflow, main column
// width) and axe-core's serious/critical violations. Geometry, not pixels: screenshots are saved
// as artifacts for people, never compared.
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';

export interface Geometry {
  /** Width of the document's content (a page wider than the viewport scrolls sideways). */
  scrollWidth: number;
  viewport: number;
  /** Width of <main>, and of the app page's main column when there is one. */
  main: number;
  column?: number | undefined;
  /** Elements sticking out to the right of the viewport (outside scroll boxes), as tag.class. */
  overflowing: string[];
}

export function geometry(page: Page): Promise<Geometry> {
  return page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const col = document.querySelector('.app-main');
    // Inside a scroll box (tables, commands, code) content may be wider: it scrolls there.
    const scrolls = (e: Element) => !!e.closest('.table-wrap, .cmd code, pre');
    return {
      scrollWidth: document.documentElement.scrollWidth,
      viewport: vw,
      main: Math.round(document.querySelector('main')!.getBoundingClientRect().width),
      column: col ? Math.round(col.getBoundingClientRect().width) : undefined,
      overflowing: [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > vw + 1 && !scrolls(e) && !e.closest('.sr-only'))
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
    };
  });
}

/** axe-core's serious and critical violations on the page, one line each (rule, count, first targets). */
export async function seriousViolations(page: Page): Promise<string[]> {
  // Only violations are collected (passes and incomplete results cost most of axe's time).
  const r = await new AxeBuilder({ page }).options({ resultTypes: ['violations'] }).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id} (${v.nodes.length}): ${v.nodes
          .slice(0, 3)
          .map((n) => n.target.join(' '))
          .join(', ')}`,
    );
}

export interface RowFit {
  /** The row's first cell text, to name it in a failure. */
  row: string;
  height: number;
  /** Height of the text the row shows inside its scroll box (text scrolled out of sight excluded). */
  shown: number;
}

/**
 * For each row of the tables matching `table`: its height and the height of the text it shows, plus
 * how far each table's scroll box scrolls sideways. A row made tall by a cell scrolled out of sight
 * (the tags table on a phone) has a large gap between the two.
 */
export function rowFit(page: Page, table: string): Promise<{ rows: RowFit[]; sideways: number[] }> {
  return page.evaluate((sel) => {
    const tables = [...document.querySelectorAll<HTMLTableElement>(sel)];
    const rows: RowFit[] = [];
    for (const t of tables) {
      const box = (t.closest('.table-wrap') ?? t).getBoundingClientRect();
      for (const tr of t.tBodies[0]?.rows ?? []) {
        let top = Infinity;
        let bottom = -Infinity;
        const walk = document.createTreeWalker(tr, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) {
          if (!n.textContent?.trim()) continue;
          const range = document.createRange();
          range.selectNodeContents(n);
          for (const r of range.getClientRects())
            if (r.width > 0 && r.right > box.left && r.left < box.right) {
              top = Math.min(top, r.top);
              bottom = Math.max(bottom, r.bottom);
            }
        }
        rows.push({
          row: (tr.cells[0]?.textContent ?? '').trim().slice(0, 40),
          height: Math.round(tr.getBoundingClientRect().height),
          shown: bottom > top ? Math.round(bottom - top) : 0,
        });
      }
    }
    const sideways = tables.map((t) => {
      const w = t.closest('.table-wrap') ?? t;
      return w.scrollWidth - w.clientWidth;
    });
    return { rows, sideways };
  }, table);
}

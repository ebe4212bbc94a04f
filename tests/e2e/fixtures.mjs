// What the browser tests draw and upload, shared by e2e.mjs (Chromium),
// browsers.test.mjs (Firefox ESR, WebKitGTK) and longtask.mjs, so that each
// browser is given the same digits and the same series; and how a
// Playwright page draws them on the pad.

/** Strokes of three digits in the draw pad's 280×280 coordinates. */
export const DIGITS = {
  1: [[[140, 40], [142, 240]]],
  7: [[[70, 60], [210, 60], [120, 240]]],
  0: [Array.from({ length: 41 }, (_, i) => [140 + 60 * Math.sin(i * Math.PI / 20), 140 - 90 * Math.cos(i * Math.PI / 20)])],
};

/**
 * Draws one stroke on the pad with the mouse (Playwright `page`): `points`
 * in the pad's 280×280 coordinates.
 */
export async function drawStroke(page, points) {
  // A click elsewhere may have scrolled the pad away (the mouse only reaches
  // what is on the screen).
  await page.getByTestId('draw-pad').scrollIntoViewIfNeeded();
  const box = await page.getByTestId('draw-pad').boundingBox();
  const at = ([x, y]) => [box.x + x * box.width / 280, box.y + y * box.height / 280];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 8 });
  await page.mouse.up();
}

/**
 * A UCR-shaped CSV (label first): 80 series of 24 points, every fourth one
 * anomalous (class 2, a plateau of +2 over points 10–15), the rest normal
 * (class 1).
 */
export function ucrCsv() {
  const rows = ['label,' + Array.from({ length: 24 }, (_, i) => `v${i}`).join(',')];
  for (let r = 0; r < 80; r++) {
    const anomalous = r % 4 === 3;
    const vals = Array.from({ length: 24 }, (_, i) => {
      const v = Math.sin((i + (r % 5)) / 3) + 0.05 * Math.sin(7 * r + i);
      return (anomalous && i >= 10 && i < 16 ? v + 2 : v).toFixed(4);
    });
    rows.push(`${anomalous ? 2 : 1},${vals.join(',')}`);
  }
  return rows.join('\n') + '\n';
}

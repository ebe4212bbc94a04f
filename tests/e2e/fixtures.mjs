// What the browser tests draw and upload, shared by e2e.mjs (Chromium) and
// browsers.test.mjs (Firefox ESR, WebKitGTK), so that each browser is given
// the same digits and the same series.

/** Strokes of three digits in the draw pad's 280×280 coordinates. */
export const DIGITS = {
  1: [[[140, 40], [142, 240]]],
  7: [[[70, 60], [210, 60], [120, 240]]],
  0: [Array.from({ length: 41 }, (_, i) => [140 + 60 * Math.sin(i * Math.PI / 20), 140 - 90 * Math.cos(i * Math.PI / 20)])],
};

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

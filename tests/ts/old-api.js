// @ts-check
// A deliberate mistake that scripts/check-js.sh must catch: a call of the
// flat API the lab handles replaced (`lab.anomaly_metrics`).
// expect: Property 'anomaly_metrics' does not exist on type 'Lab'
import * as aelab from './aelab.js';

/** @param {aelab.Lab} lab */
export function metrics(lab) {
  return lab.anomaly_metrics(0.5);
}

// @ts-check
// A deliberate mistake that scripts/check-js.sh must catch: a misspelt
// field of the denoiser's training settings ("epoch" for "epochs").
// expect: 'epoch' does not exist in type 'DenoiseTrainInput'
import * as aelab from './aelab.js';

/** @param {aelab.Lab} lab */
export function startTraining(lab) {
  return lab.denoise().start_training({
    images: 1000, epoch: 2, batch_size: 64, learning_rate: 1e-3, noise_min: 0.3, noise_max: 0.9,
  });
}

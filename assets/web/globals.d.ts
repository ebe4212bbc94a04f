// What the page's JS adds to `window` and uses of WebGPU, for the type
// check (scripts/check-js.sh). The wasm API's own declarations are
// generated: aelab.d.ts.

interface Window {
  /** Hooks the e2e tests call (tests/e2e). */
  aelabTest: {
    loseGpu?: () => number;
    failStorage?: string | null;
    [hook: string]: unknown;
  };
  /** Shows a panic of the wasm module (src/web/mod.rs sets the hook). */
  aelabPanic: (msg: string) => void;
  aelabRunBench: () => Promise<object[]>;
  aelabBenchResults: string;
  aelabFirstDenoiseMs: number;
  aelabUpdateMs: number[];
  GPUAdapter?: unknown;
}

/** The part of WebGPU the page touches: it watches devices for loss. */
interface GPUDevice {
  lost: Promise<{ reason: string; message: string }>;
  destroy(): void;
}
declare var GPUAdapter: {
  prototype: { requestDevice(...args: unknown[]): Promise<GPUDevice> };
};
